//! The system calls of the UDP path that no maintained crate wraps the way it needs them:
//! batched receive and send (`recvmmsg` with `MSG_WAITFORONE`, `sendmmsg`) over buffers
//! allocated once, the packet-info control messages that let a wildcard socket answer from
//! the address it was asked on, and the `*BUFFORCE` socket options. socket2 covers the rest
//! (bind, `SO_REUSEPORT`, timeouts).
//!
//! This is the crate's only `unsafe` code. A `Batch` owns its memory through raw pointers
//! taken once (`Region`), so the addresses handed to the kernel stay valid and no Rust
//! reference to the same memory is alive while the kernel writes to it.

#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd};

/// Bytes of one receive slot. A query is a few hundred bytes at most in practice; a datagram
/// longer than this is dropped (the kernel flags it `MSG_TRUNC`).
pub const SLOT_BYTES: usize = 4096;
/// Room for one packet-info control message (`CMSG_SPACE(in6_pktinfo)` is 40 bytes).
const CONTROL_WORDS: usize = 8;
/// The reply buffers start this large: a UDP answer never exceeds the 1,232-byte limit.
const REPLY_CAPACITY: usize = 1536;

/// `len` values of `T` on the heap, zeroed, reached only through the pointer taken at
/// allocation: the kernel and this module write through it, nothing else borrows it.
struct Region<T> {
    ptr: *mut T,
    len: usize,
}

impl<T: Copy> Region<T> {
    fn zeroed(len: usize) -> Region<T> {
        // SAFETY: every `T` used here (bytes, words, `sockaddr_storage`, `iovec`, `mmsghdr`)
        // is a plain C type for which all-zero bytes are a valid value.
        let values: Box<[T]> = (0..len).map(|_| unsafe { zeroed::<T>() }).collect();
        Region { ptr: Box::into_raw(values).cast::<T>(), len }
    }

    /// Pointer to element `i` (computing it is safe; the callers' `i < len` loop bounds make
    /// dereferencing it sound).
    fn at(&self, i: usize) -> *mut T {
        debug_assert!(i < self.len);
        self.ptr.wrapping_add(i)
    }
}

impl<T> Drop for Region<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` come from `Box::into_raw` of a boxed slice of exactly `len`
        // elements, and are dropped once.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.ptr, self.len)) });
    }
}

/// A datagram in a batch, as received.
#[derive(Debug, Clone, Copy)]
pub struct Received<'b> {
    /// The payload (cut at `SLOT_BYTES` when `truncated`).
    pub data: &'b [u8],
    /// Sender; `None` for an address family other than IPv4/IPv6.
    pub src: Option<SocketAddr>,
    /// Longer than a slot: the rest was discarded by the kernel.
    pub truncated: bool,
}

/// Receive and send buffers for up to `capacity` datagrams, allocated once per thread.
/// Slot `i`'s reply goes back to slot `i`'s sender, from the address it was sent to.
pub struct Batch {
    capacity: usize,
    /// Whether control messages (packet info) are received and echoed.
    pktinfo: bool,
    data: Region<u8>,
    names: Region<libc::sockaddr_storage>,
    controls: Region<[u64; CONTROL_WORDS]>,
    iovs: Region<libc::iovec>,
    hdrs: Region<libc::mmsghdr>,
    out_iovs: Region<libc::iovec>,
    out_hdrs: Region<libc::mmsghdr>,
    /// Datagrams from the last `recv`; their headers are the ones to reset next time.
    received: usize,
    /// Headers whose lengths the kernel may have overwritten (all of them before the first
    /// `recv`), reset by the next `recv`.
    dirty: usize,
    /// Replies queued for the next `send`, in `out_hdrs[..queued]`.
    queued: usize,
    /// The slot of each queued reply.
    queued_slots: Vec<usize>,
    replies: Vec<Vec<u8>>,
}

// SAFETY: a `Batch` owns every allocation its pointers reach (like a `Vec`), and its
// methods take `&mut self` for every access, so moving it to another thread is sound.
unsafe impl Send for Batch {}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch").field("capacity", &self.capacity).field("pktinfo", &self.pktinfo).field("received", &self.received).finish_non_exhaustive()
    }
}

/// What a `send` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// Replies the kernel took.
    pub sent: usize,
    /// Replies it refused (the first error is logged by the caller).
    pub failed: usize,
    /// The error of the first refused reply.
    pub error: Option<io::ErrorKind>,
}

impl Batch {
    /// Buffers for `capacity` datagrams (at least 1); with `pktinfo`, room for the
    /// destination-address control message of each.
    pub fn new(capacity: usize, pktinfo: bool) -> Batch {
        // A batch beyond this is a configuration mistake (the setting allows 1,024).
        let capacity = capacity.clamp(1, 4096);
        let batch = Batch {
            capacity,
            pktinfo,
            data: Region::zeroed(capacity * SLOT_BYTES),
            names: Region::zeroed(capacity),
            controls: Region::zeroed(capacity),
            iovs: Region::zeroed(capacity),
            hdrs: Region::zeroed(capacity),
            out_iovs: Region::zeroed(capacity),
            out_hdrs: Region::zeroed(capacity),
            received: 0,
            dirty: capacity,
            queued: 0,
            queued_slots: vec![0; capacity],
            replies: (0..capacity).map(|_| Vec::with_capacity(REPLY_CAPACITY)).collect(),
        };
        for i in 0..capacity {
            // SAFETY: `i < capacity`, the length of every region; the pointers stored are
            // into regions this `Batch` owns and frees only on drop.
            unsafe {
                let iov = batch.iovs.at(i);
                (*iov).iov_base = batch.data.at(i * SLOT_BYTES).cast();
                (*iov).iov_len = SLOT_BYTES;
                let hdr = &mut (*batch.hdrs.at(i)).msg_hdr;
                hdr.msg_name = batch.names.at(i).cast();
                hdr.msg_iov = iov;
                hdr.msg_iovlen = 1;
            }
        }
        batch
    }

    /// Datagrams a `recv` takes at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Block until at least one datagram arrives (or the socket's receive timeout passes),
    /// then take whatever else is already queued, up to `capacity`. Returns how many.
    pub fn recv(&mut self, fd: BorrowedFd<'_>) -> io::Result<usize> {
        // The kernel overwrote the name and control lengths of the slots it filled last time.
        let control_len = if self.pktinfo { CONTROL_WORDS * size_of::<u64>() } else { 0 };
        for i in 0..self.dirty.max(self.received) {
            // SAFETY: `received <= capacity`; the header is ours and not borrowed.
            unsafe {
                let hdr = &mut (*self.hdrs.at(i)).msg_hdr;
                hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                hdr.msg_control = if self.pktinfo { self.controls.at(i).cast() } else { std::ptr::null_mut() };
                hdr.msg_controllen = control_len as _;
                hdr.msg_flags = 0;
            }
        }
        self.received = 0;
        self.dirty = 0;
        self.queued = 0;
        // SAFETY: `hdrs` holds `capacity` initialised headers whose buffers are valid for
        // the lengths they state; a null timeout means the socket's own timeout applies.
        let n = unsafe { libc::recvmmsg(fd.as_raw_fd(), self.hdrs.ptr, self.capacity as libc::c_uint, libc::MSG_WAITFORONE, std::ptr::null_mut()) };
        if n < 0 {
            // Nothing was written: every header is still as reset above.
            return Err(io::Error::last_os_error());
        }
        self.received = (n as usize).min(self.capacity);
        Ok(self.received)
    }

    /// Datagram `i` of the last `recv`, and the reply buffer of its slot.
    pub fn slot(&mut self, i: usize) -> Option<(Received<'_>, &mut Vec<u8>)> {
        if i >= self.received {
            return None;
        }
        // SAFETY: `i < received <= capacity`; the kernel has finished writing this slot, and
        // the returned slice lives no longer than `&mut self`, so the next `recv` cannot
        // overwrite it while it is read.
        let (data, src, truncated) = unsafe {
            let h = &*self.hdrs.at(i);
            let len = (h.msg_len as usize).min(SLOT_BYTES);
            let data = std::slice::from_raw_parts(self.data.at(i * SLOT_BYTES).cast_const(), len);
            let src = sockaddr(&*self.names.at(i), h.msg_hdr.msg_namelen);
            (data, src, h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0)
        };
        let reply = self.replies.get_mut(i)?;
        Some((Received { data, src, truncated }, reply))
    }

    /// Send slot `i`'s reply (its buffer as `slot` left it, read when `send` runs) with the
    /// next `send`.
    pub fn queue(&mut self, i: usize) {
        if i >= self.received || self.queued >= self.capacity {
            return;
        }
        let j = self.queued;
        // SAFETY: `i < received` and `j < capacity`; only headers this `Batch` owns are
        // touched, and the reply buffer's address is taken later, in `send`.
        unsafe {
            let rx = &(*self.hdrs.at(i)).msg_hdr;
            let tx = &mut (*self.out_hdrs.at(j)).msg_hdr;
            tx.msg_name = rx.msg_name;
            tx.msg_namelen = rx.msg_namelen;
            tx.msg_iov = self.out_iovs.at(j);
            tx.msg_iovlen = 1;
            tx.msg_flags = 0;
            if self.pktinfo && rx.msg_controllen > 0 {
                // Answer from the address the query was sent to: the received packet info,
                // turned into the form `sendmsg` reads.
                tx.msg_control = rx.msg_control;
                tx.msg_controllen = rx.msg_controllen;
                source_from_pktinfo(tx);
            } else {
                tx.msg_control = std::ptr::null_mut();
                tx.msg_controllen = 0;
            }
        }
        if let Some(slot) = self.queued_slots.get_mut(j) {
            *slot = i;
        }
        self.queued += 1;
    }

    /// Send the queued replies, as few system calls as the kernel allows. A reply the kernel
    /// refuses is skipped (counted in `failed`), the rest still go.
    pub fn send(&mut self, fd: BorrowedFd<'_>) -> Sent {
        // The replies' addresses are taken here, under `&mut self`: no reply can be resized
        // or freed between this and the system call.
        for j in 0..self.queued {
            let Some(reply) = self.queued_slots.get(j).and_then(|&i| self.replies.get(i)) else { continue };
            // SAFETY: `j < queued <= capacity`; the iovec is ours and only read by the kernel
            // during `sendmmsg` below, while `reply` is not touched.
            unsafe {
                let iov = self.out_iovs.at(j);
                (*iov).iov_base = reply.as_ptr().cast_mut().cast();
                (*iov).iov_len = reply.len();
            }
        }
        let mut out = Sent::default();
        let mut from = 0;
        while from < self.queued {
            let left = self.queued - from;
            // SAFETY: `out_hdrs[from..queued]` were filled by `queue` and point at names,
            // control data and replies that live until the next `recv`.
            let n = unsafe { libc::sendmmsg(fd.as_raw_fd(), self.out_hdrs.at(from), left as libc::c_uint, 0) };
            if n > 0 {
                out.sent += n as usize;
                from += n as usize;
                continue;
            }
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            // The first of the remaining replies failed: skip it, send the others.
            out.failed += 1;
            out.error.get_or_insert(error.kind());
            from += 1;
        }
        self.queued = 0;
        out
    }
}

/// Turn a received packet-info message into the one `sendmsg` takes: the reply's source is
/// the query's destination, and the interface is left to routing (Knot does the same), except
/// for IPv6 link-local addresses, which need it.
///
/// # Safety
/// `tx.msg_control` points at `tx.msg_controllen` writable bytes holding control messages
/// written by the kernel.
unsafe fn source_from_pktinfo(tx: &mut libc::msghdr) {
    // SAFETY: the caller's contract; `CMSG_FIRSTHDR` checks the length holds a header, and
    // the payload sizes are checked against `cmsg_len` before it is read.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(tx);
        if cmsg.is_null() {
            return;
        }
        let len = (*cmsg).cmsg_len as usize;
        let data = libc::CMSG_DATA(cmsg);
        if (*cmsg).cmsg_level == libc::IPPROTO_IP && (*cmsg).cmsg_type == libc::IP_PKTINFO && len >= libc::CMSG_LEN(size_of::<libc::in_pktinfo>() as u32) as usize {
            let info = data.cast::<libc::in_pktinfo>();
            let mut v = info.read_unaligned();
            v.ipi_spec_dst = v.ipi_addr;
            v.ipi_ifindex = 0;
            info.write_unaligned(v);
        } else if (*cmsg).cmsg_level == libc::IPPROTO_IPV6 && (*cmsg).cmsg_type == libc::IPV6_PKTINFO && len >= libc::CMSG_LEN(size_of::<libc::in6_pktinfo>() as u32) as usize {
            let info = data.cast::<libc::in6_pktinfo>();
            let mut v = info.read_unaligned();
            if !Ipv6Addr::from(v.ipi6_addr.s6_addr).is_unicast_link_local() {
                v.ipi6_ifindex = 0;
            }
            info.write_unaligned(v);
        } else {
            // Not ours: send without control data rather than with something unexpected.
            tx.msg_control = std::ptr::null_mut();
            tx.msg_controllen = 0;
        }
    }
}

/// The socket address the kernel wrote into `storage` (`len` bytes of it).
fn sockaddr(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match i32::from(storage.ss_family) {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: `sockaddr_storage` is sized and aligned for every address type, and the
            // family and length say the kernel wrote a `sockaddr_in`.
            let a = unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)), u16::from_be(a.sin_port))))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for `sockaddr_in6`.
            let a = unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(a.sin6_addr.s6_addr), u16::from_be(a.sin6_port), a.sin6_flowinfo, a.sin6_scope_id)))
        }
        _ => None,
    }
}

/// Set an integer socket option.
fn set_int(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: `value` is a live `c_int` and the length passed is its size.
    let r = unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, (&raw const value).cast(), size_of::<libc::c_int>() as libc::socklen_t) };
    if r == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// Which of a socket's buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buffer {
    /// `SO_RCVBUF`.
    Receive,
    /// `SO_SNDBUF`.
    Send,
}

/// How a buffer size was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferSet {
    /// `SO_*BUFFORCE` (CAP_NET_ADMIN): past `net.core.[rw]mem_max`.
    Forced,
    /// `SO_*BUF`: capped by `net.core.[rw]mem_max`.
    Capped,
}

/// Ask for a `bytes` buffer, forced past the sysctl cap where the process may. The caller
/// reads the granted size back (`getsockopt` reports twice the request: the kernel counts its
/// bookkeeping too).
pub fn set_buffer(fd: BorrowedFd<'_>, which: Buffer, bytes: usize) -> io::Result<BufferSet> {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    let (force, plain) = match which {
        Buffer::Receive => (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        Buffer::Send => (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    };
    match set_int(fd, libc::SOL_SOCKET, force, value) {
        Ok(()) => Ok(BufferSet::Forced),
        Err(_) => set_int(fd, libc::SOL_SOCKET, plain, value).map(|()| BufferSet::Capped),
    }
}

/// Send with DF set and ignore path-MTU messages (`IP_PMTUDISC_PROBE`): answers are at most
/// 1,232 bytes, which every path carries, so a forged "fragmentation needed" can never shrink
/// them, and nothing is fragmented (RFC 9715). The kernel then also skips the per-packet IP
/// identification hash it needs for fragmentable packets.
pub fn never_fragment(fd: BorrowedFd<'_>, ipv6: bool) -> io::Result<()> {
    if ipv6 { set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_MTU_DISCOVER, libc::IPV6_PMTUDISC_PROBE) } else { set_int(fd, libc::IPPROTO_IP, libc::IP_MTU_DISCOVER, libc::IP_PMTUDISC_PROBE) }
}

/// Receive each datagram's destination address (`IP_PKTINFO` / `IPV6_RECVPKTINFO`), for a
/// socket bound to a wildcard address.
pub fn enable_pktinfo(fd: BorrowedFd<'_>, ipv6: bool) -> io::Result<()> {
    if ipv6 { set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1) } else { set_int(fd, libc::IPPROTO_IP, libc::IP_PKTINFO, 1) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsFd;
    use std::time::Duration;

    fn pair() -> (UdpSocket, UdpSocket) {
        let server = UdpSocket::bind("127.0.0.1:0").expect("bind");
        server.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
        client.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        (server, client)
    }

    /// Receive batches until `n` datagrams came in, handing each batch to `each` (which
    /// fills and queues replies), sending after each batch; returns what the sends did.
    fn serve(server: &UdpSocket, batch: &mut Batch, n: usize, mut each: impl FnMut(&mut Batch, usize)) -> Sent {
        let mut got = 0;
        let mut total = Sent::default();
        while got < n {
            let k = batch.recv(server.as_fd()).expect("recv");
            assert!(k <= batch.capacity());
            for i in 0..k {
                each(batch, i);
            }
            let sent = batch.send(server.as_fd());
            total.sent += sent.sent;
            total.failed += sent.failed;
            total.error = total.error.or(sent.error);
            got += k;
        }
        total
    }

    #[test]
    fn a_batch_takes_what_is_queued_and_answers_each_sender() {
        let (server, client) = pair();
        let to = server.local_addr().expect("addr");
        for i in 0..5u8 {
            client.send_to(&[i; 3], to).expect("send");
        }
        let mut batch = Batch::new(4, false);
        let mut seen = Vec::new();
        let sent = serve(&server, &mut batch, 5, |batch, i| {
            let (pkt, reply) = batch.slot(i).expect("slot");
            assert_eq!(pkt.data.len(), 3);
            assert_eq!(pkt.src, Some(client.local_addr().expect("addr")));
            assert!(!pkt.truncated);
            let n = pkt.data[0];
            seen.push(n);
            reply.clear();
            reply.extend_from_slice(&[b'r', n]);
            batch.queue(i);
        });
        // At most four per batch, in order, each answered.
        assert_eq!(seen, [0, 1, 2, 3, 4]);
        assert_eq!(sent, Sent { sent: 5, failed: 0, error: None });
        let mut buf = [0u8; 16];
        for i in 0..5u8 {
            let (len, from) = client.recv_from(&mut buf).expect("reply");
            assert_eq!((&buf[..len], from), (&[b'r', i][..], to));
        }
        assert!(batch.slot(5).is_none());
    }

    #[test]
    fn each_queued_slot_answers_its_own_sender_from_the_address_it_asked() {
        let server = UdpSocket::bind("0.0.0.0:0").expect("bind");
        server.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        enable_pktinfo(server.as_fd(), false).expect("pktinfo");
        let port = server.local_addr().expect("addr").port();
        // Three clients, each asking a different address; the middle one gets no answer, so
        // in a batch of three the second reply queued is slot 2's.
        let clients: Vec<(UdpSocket, SocketAddr)> = (1..=3u8)
            .map(|last| {
                let c = UdpSocket::bind("127.0.0.1:0").expect("bind");
                c.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
                (c, SocketAddr::from(([127, 0, 0, last], port)))
            })
            .collect();
        for (k, (c, to)) in clients.iter().enumerate() {
            c.send_to(&[k as u8], *to).expect("send");
        }
        let mut batch = Batch::new(8, true);
        let sent = serve(&server, &mut batch, 3, |batch, i| {
            let (pkt, reply) = batch.slot(i).expect("slot");
            let k = pkt.data[0];
            if k == 1 {
                return;
            }
            reply.clear();
            reply.extend_from_slice(&[b'a', k]);
            batch.queue(i);
        });
        assert_eq!(sent.sent, 2);
        let mut buf = [0u8; 4];
        for (k, (c, to)) in clients.iter().enumerate() {
            if k == 1 {
                c.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
                assert!(c.recv_from(&mut buf).is_err(), "the unqueued slot got no answer");
                continue;
            }
            let (len, from) = c.recv_from(&mut buf).expect("reply");
            assert_eq!((&buf[..len], from), (&[b'a', k as u8][..], *to));
        }
    }

    #[test]
    fn a_reply_the_kernel_refuses_is_skipped_and_the_rest_still_go() {
        let (server, client) = pair();
        let to = server.local_addr().expect("addr");
        for payload in [b"a", b"b", b"c"] {
            client.send_to(payload, to).expect("send");
        }
        let mut batch = Batch::new(4, false);
        let sent = serve(&server, &mut batch, 3, |batch, i| {
            let (pkt, reply) = batch.slot(i).expect("slot");
            let big = pkt.data == b"b";
            reply.clear();
            // Past the largest UDP payload: EMSGSIZE for this one only.
            reply.resize(if big { 70_000 } else { 1 }, pkt.data[0]);
            batch.queue(i);
        });
        assert_eq!((sent.sent, sent.failed), (2, 1));
        assert!(sent.error.is_some(), "{sent:?}");
        let mut buf = [0u8; 4];
        for want in [b"a", b"c"] {
            let (len, _) = client.recv_from(&mut buf).expect("reply");
            assert_eq!(&buf[..len], want);
        }
    }

    #[test]
    fn an_oversized_datagram_is_flagged() {
        let (server, client) = pair();
        client.send_to(&vec![7u8; SLOT_BYTES + 100], server.local_addr().expect("addr")).expect("send");
        let mut batch = Batch::new(2, false);
        assert_eq!(batch.recv(server.as_fd()).expect("recv"), 1);
        let (pkt, _) = batch.slot(0).expect("slot");
        assert!(pkt.truncated);
        assert_eq!(pkt.data.len(), SLOT_BYTES);
    }

    #[test]
    fn a_receive_timeout_is_an_error_not_a_packet() {
        let (server, _client) = pair();
        server.set_read_timeout(Some(Duration::from_millis(20))).expect("timeout");
        let mut batch = Batch::new(2, true);
        let err = batch.recv(server.as_fd()).expect_err("nothing sent");
        assert!(matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut), "{err}");
        assert!(batch.slot(0).is_none());
    }

    #[test]
    fn a_wildcard_socket_answers_from_the_address_asked() {
        let server = UdpSocket::bind("0.0.0.0:0").expect("bind");
        server.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        enable_pktinfo(server.as_fd(), false).expect("pktinfo");
        let port = server.local_addr().expect("addr").port();
        let mut batch = Batch::new(4, true);
        for last in [1u8, 2] {
            let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
            client.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
            let to = SocketAddr::from(([127, 0, 0, last], port));
            client.send_to(b"q", to).expect("send");
            assert_eq!(batch.recv(server.as_fd()).expect("recv"), 1);
            let (_, reply) = batch.slot(0).expect("slot");
            reply.clear();
            reply.push(b'a');
            batch.queue(0);
            assert_eq!(batch.send(server.as_fd()).sent, 1);
            let mut buf = [0u8; 4];
            let (_, from) = client.recv_from(&mut buf).expect("reply");
            assert_eq!(from, to);
        }
    }

    #[test]
    fn a_buffer_is_forced_past_the_sysctl_or_capped_by_it() {
        let (server, _) = pair();
        let sock = socket2::SockRef::from(&server);
        let cap = std::fs::read_to_string("/proc/sys/net/core/rmem_max").ok().and_then(|s| s.trim().parse::<usize>().ok());
        let asked = 3 << 20;
        let how = set_buffer(server.as_fd(), Buffer::Receive, asked).expect("set");
        // getsockopt reports twice the size in force.
        let granted = sock.recv_buffer_size().expect("size") / 2;
        match (how, cap) {
            (BufferSet::Forced, _) => assert_eq!(granted, asked),
            (BufferSet::Capped, Some(cap)) => assert_eq!(granted, asked.min(cap)),
            (BufferSet::Capped, None) => assert!(granted > 0),
        }
    }
}
