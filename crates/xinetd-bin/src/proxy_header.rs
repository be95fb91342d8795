//! Reading a PROXY protocol header (HAProxy's proxy-protocol.txt, v1 §2.1 and v2 §2.2) from
//! the bytes a connection has sent so far, without I/O: the daemon peeks at the socket,
//! hands what it saw to [`read`], and consumes exactly the header's length once it is
//! complete, so the server's first `read()` returns the first payload byte.
//!
//! The wire format is decoded by the `proxy-header` crate; this module adds what a receiver
//! needs around it: an early verdict on bytes that cannot start a header (that crate waits
//! for 15 or 16 bytes before it looks), the versions the service accepts, the size limits
//! (a v1 line is at most 107 bytes, a v2 block at most [`MAX_V2`] here), and the TLVs users
//! need as plain values. It uses only `std` and `proxy-header`, so the fuzz target
//! (`fuzz/fuzz_targets/proxy_header.rs`) compiles it as it is.

use std::net::SocketAddr;

use proxy_header::{ParseConfig, ProxyHeader, Tlv};

/// The v1 greeting.
const V1_GREETING: &[u8] = b"PROXY ";
/// The v2 signature.
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\x00\r\nQUIT\n";
/// Longest v1 line, CR-LF included (§2.1).
pub const MAX_V1: usize = 107;
/// Fixed part of a v2 header: signature, version/command, family, length.
const V2_FIXED: usize = 16;
/// Largest v2 header accepted, fixed part included: addresses (216 bytes for AF_UNIX) and
/// the TLVs HAProxy and the cloud balancers send fit many times over. A larger block is
/// refused rather than buffered (§2.2 lets the length reach 64 KiB).
pub const MAX_V2: usize = 4096;
/// The most bytes [`read`] ever needs to see: peek this many.
pub const MAX_HEADER: usize = MAX_V2;

/// Which versions a service accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accept {
    /// Version 1 (text).
    pub v1: bool,
    /// Version 2 (binary).
    pub v2: bool,
}

/// What the bytes so far say.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// They may start a header: wait for more.
    More,
    /// A complete header, `len` bytes long: consume exactly that many.
    Done(Box<Header>, usize),
    /// Not a header the service accepts.
    Bad(Bad),
}

/// Why a header is refused (each with the text the FAIL's daemon-log line carries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bad {
    /// The first bytes are neither the v1 greeting nor the v2 signature.
    NoSignature,
    /// A header of a version the service does not accept.
    Version(u8),
    /// A v1 line without CR-LF within 107 bytes, or a v2 block over [`MAX_V2`].
    TooLong,
    /// The header is complete but malformed (addresses, ports, family, command, TLVs).
    Malformed,
}

impl Bad {
    /// For the daemon log.
    pub fn text(self) -> &'static str {
        match self {
            Bad::NoSignature => "no PROXY signature",
            Bad::Version(1) => "a PROXY v1 header where only v2 is accepted",
            Bad::Version(_) => "a PROXY v2 header where only v1 is accepted",
            Bad::TooLong => "PROXY header too long",
            Bad::Malformed => "malformed PROXY header",
        }
    }
}

/// A complete header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// 1 or 2.
    pub version: u8,
    /// The client and the address it connected to; `None` for v1 `UNKNOWN`, v2 `LOCAL`,
    /// and v2 `UNSPEC`/`AF_UNIX` families: the connection's real peer is used.
    pub addresses: Option<(SocketAddr, SocketAddr)>,
    /// The v2 TLVs users need.
    pub tlvs: Tlvs,
}

/// v2 TLVs, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tlvs {
    /// `PP2_TYPE_AUTHORITY` (the TLS SNI, or a host name).
    pub authority: Option<String>,
    /// `PP2_TYPE_ALPN`.
    pub alpn: Option<Vec<u8>>,
    /// `PP2_TYPE_UNIQUE_ID`.
    pub unique_id: Option<Vec<u8>>,
    /// `PP2_TYPE_SSL`: the client's TLS connection.
    pub ssl: Option<Ssl>,
    /// `PP2_TYPE_NETNS`.
    pub netns: Option<String>,
    /// AWS's `PP2_TYPE_AWS` (0xEA) with subtype `PP2_SUBTYPE_AWS_VPCE_ID` (0x01).
    pub aws_vpce_id: Option<String>,
}

/// `PP2_TYPE_SSL` and its sub-TLVs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ssl {
    /// `PP2_CLIENT_SSL`: the client connected over TLS.
    pub client_ssl: bool,
    /// `PP2_CLIENT_CERT_CONN`: it presented a certificate on this connection.
    pub client_cert: bool,
    /// The `verify` field: 0 when the client's certificate was verified.
    pub verify: u32,
    /// `PP2_SUBTYPE_SSL_VERSION`.
    pub version: Option<String>,
    /// `PP2_SUBTYPE_SSL_CN`.
    pub cn: Option<String>,
    /// `PP2_SUBTYPE_SSL_CIPHER`.
    pub cipher: Option<String>,
    /// `PP2_SUBTYPE_SSL_SIG_ALG`.
    pub sig_alg: Option<String>,
    /// `PP2_SUBTYPE_SSL_KEY_ALG`.
    pub key_alg: Option<String>,
}

/// AWS's TLV type.
const PP2_TYPE_AWS: u8 = 0xEA;
/// AWS's VPC endpoint id subtype.
const PP2_SUBTYPE_AWS_VPCE_ID: u8 = 0x01;

/// Reads the bytes a connection has sent so far (from its first byte).
pub fn read(buf: &[u8], accept: Accept) -> Read {
    let Some(&first) = buf.first() else {
        return Read::More;
    };
    let (version, magic) = match first {
        b'P' => (1, V1_GREETING),
        b'\r' => (2, V2_SIGNATURE),
        _ => return Read::Bad(Bad::NoSignature),
    };
    let accepted = if version == 1 { accept.v1 } else { accept.v2 };
    if !accepted {
        // The first byte tells the version (§2.2: it cannot start a v1 line); judged on it
        // alone, so the verdict does not change with the bytes after it (found by the
        // proxy_header fuzz target: `\r` then a non-signature byte).
        return Read::Bad(Bad::Version(version));
    }
    let seen = buf.len().min(magic.len());
    if buf[..seen] != magic[..seen] {
        return Read::Bad(Bad::NoSignature);
    }
    if version == 1 {
        read_v1(buf)
    } else {
        read_v2(buf)
    }
}

fn read_v1(buf: &[u8]) -> Read {
    let window = &buf[..buf.len().min(MAX_V1)];
    let Some(nl) = window.iter().position(|&b| b == b'\n') else {
        return if buf.len() >= MAX_V1 {
            Read::Bad(Bad::TooLong)
        } else {
            Read::More
        };
    };
    let line = &buf[..=nl];
    // The whole line is here: the crate's "too short" now means a malformed line.
    let config = ParseConfig {
        include_tlvs: false,
        allow_v1: true,
        allow_v2: false,
    };
    match ProxyHeader::parse(line, config) {
        Ok((h, len)) if len == line.len() && v1_fields_strict(line) => Read::Done(
            Box::new(Header {
                version: 1,
                addresses: h.proxied_address().map(|a| (a.source, a.destination)),
                tlvs: Tlvs::default(),
            }),
            len,
        ),
        _ => Read::Bad(Bad::Malformed),
    }
}

/// What the crate lets through and §2.1 does not: fields separated by exactly one space,
/// ports as plain decimal numbers (no sign, no leading zero).
fn v1_fields_strict(line: &[u8]) -> bool {
    let Some(text) = line.strip_suffix(b"\r\n") else {
        return false;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return false;
    };
    let fields: Vec<&str> = text.split(' ').collect();
    match fields.as_slice() {
        // `UNKNOWN` may be followed by anything (§2.1): the receiver ignores it.
        ["PROXY", "UNKNOWN", ..] => true,
        ["PROXY", "TCP4" | "TCP6", _, _, sport, dport] => {
            let port = |p: &str| {
                !p.is_empty()
                    && p.bytes().all(|b| b.is_ascii_digit())
                    && (p == "0" || !p.starts_with('0'))
                    && p.parse::<u16>().is_ok()
            };
            port(sport) && port(dport)
        }
        _ => false,
    }
}

fn read_v2(buf: &[u8]) -> Read {
    // The version nibble is judged as soon as it arrives (and before the length, so the
    // verdict does not change as more bytes come).
    if buf.len() > V2_SIGNATURE.len() && buf[V2_SIGNATURE.len()] >> 4 != 2 {
        return Read::Bad(Bad::Malformed);
    }
    if buf.len() < V2_FIXED {
        return Read::More;
    }
    let total = V2_FIXED + usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    if total > MAX_V2 {
        return Read::Bad(Bad::TooLong);
    }
    if buf.len() < total {
        return Read::More;
    }
    let config = ParseConfig {
        include_tlvs: true,
        allow_v1: false,
        allow_v2: true,
    };
    let Ok((h, len)) = ProxyHeader::parse(&buf[..total], config) else {
        return Read::Bad(Bad::Malformed);
    };
    if len != total {
        return Read::Bad(Bad::Malformed);
    }
    let Some(tlvs) = tlvs(&h) else {
        return Read::Bad(Bad::Malformed);
    };
    Read::Done(
        Box::new(Header {
            version: 2,
            addresses: h.proxied_address().map(|a| (a.source, a.destination)),
            tlvs,
        }),
        len,
    )
}

/// The TLVs; `None` when their structure is broken (a length past the end, a sub-TLV that
/// does not decode), which refuses the header like any other malformed part.
fn tlvs(h: &ProxyHeader<'_>) -> Option<Tlvs> {
    let mut out = Tlvs::default();
    for t in h.tlvs() {
        match t.ok()? {
            Tlv::Authority(a) => out.authority = Some(a.into_owned()),
            Tlv::Alpn(a) => out.alpn = Some(a.into_owned()),
            Tlv::UniqueId(u) => out.unique_id = Some(u.into_owned()),
            Tlv::Netns(n) => out.netns = Some(n.into_owned()),
            Tlv::Ssl(s) => {
                let mut ssl = Ssl {
                    client_ssl: s.client_ssl(),
                    client_cert: s.client_cert_conn(),
                    verify: s.verify(),
                    ..Ssl::default()
                };
                for sub in s.tlvs() {
                    match sub.ok()? {
                        Tlv::SslVersion(v) => ssl.version = Some(v.into_owned()),
                        Tlv::SslCn(v) => ssl.cn = Some(v.into_owned()),
                        Tlv::SslCipher(v) => ssl.cipher = Some(v.into_owned()),
                        Tlv::SslSigAlg(v) => ssl.sig_alg = Some(v.into_owned()),
                        Tlv::SslKeyAlg(v) => ssl.key_alg = Some(v.into_owned()),
                        _ => {}
                    }
                }
                out.ssl = Some(ssl);
            }
            Tlv::Custom(PP2_TYPE_AWS, data) => {
                if let Some((&PP2_SUBTYPE_AWS_VPCE_ID, id)) = data.split_first() {
                    out.aws_vpce_id = Some(String::from_utf8_lossy(id).into_owned());
                }
            }
            // CRC32C is not verified (documented), NOOP and unknown types are ignored (§2.2).
            _ => {}
        }
    }
    Some(out)
}

/// A header to send to a `redirect` target (`redirect_proxy`): the client as the source,
/// the address it connected to as the destination; v1 `UNKNOWN`/v2 `LOCAL` when the two
/// are of different families.
pub fn encode(version: u8, client: SocketAddr, dest: SocketAddr) -> Vec<u8> {
    let unmap = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
    let (client, dest) = (unmap(client), unmap(dest));
    let header = if client.is_ipv4() == dest.is_ipv4() {
        ProxyHeader::with_address(proxy_header::ProxiedAddress::stream(client, dest))
    } else {
        ProxyHeader::with_local()
    };
    let mut out = Vec::with_capacity(64);
    let r = if version == 1 {
        header.encode_v1(&mut out)
    } else {
        header.encode_v2(&mut out)
    };
    if r.is_err() {
        // Only a v1 header with TLVs or mixed families can fail: neither is made here.
        out.clear();
        out.extend_from_slice(if version == 1 {
            b"PROXY UNKNOWN\r\n"
        } else {
            b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00"
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANY: Accept = Accept { v1: true, v2: true };

    fn done(r: Read) -> (Header, usize) {
        match r {
            Read::Done(h, n) => (*h, n),
            other => panic!("not complete: {other:?}"),
        }
    }

    #[test]
    fn v1_is_read_byte_by_byte_and_only_the_line_is_consumed() {
        let wire = b"PROXY TCP4 192.0.2.7 198.51.100.1 40000 7\r\nhello";
        let line = 43;
        for n in 0..line {
            assert_eq!(read(&wire[..n], ANY), Read::More, "after {n} bytes");
        }
        let (h, len) = done(read(wire, ANY));
        assert_eq!(len, line);
        assert_eq!(&wire[len..], b"hello");
        let (src, dst) = h.addresses.expect("addresses");
        assert_eq!(src, "192.0.2.7:40000".parse().expect("addr"));
        assert_eq!(dst, "198.51.100.1:7".parse().expect("addr"));
        let (h, _) = done(read(b"PROXY UNKNOWN whatever\r\n", ANY));
        assert_eq!(h.addresses, None);
        let (h, _) = done(read(b"PROXY TCP6 2001:db8::1 ::1 1 65535\r\n", ANY));
        assert_eq!(h.addresses.expect("v6").0.port(), 1);
    }

    #[test]
    fn v2_is_read_byte_by_byte_with_its_tlvs() {
        let addr = proxy_header::ProxiedAddress::stream(
            "203.0.113.9:5555".parse().expect("addr"),
            "127.0.0.1:7".parse().expect("addr"),
        );
        let header = ProxyHeader::with_tlvs(
            Some(addr),
            [
                Tlv::Authority("example.org".into()),
                Tlv::UniqueId(b"abc-123".as_slice().into()),
                Tlv::Custom(PP2_TYPE_AWS, b"\x01vpce-0123".as_slice().into()),
            ],
        );
        let mut wire = Vec::new();
        header.encode_v2(&mut wire).expect("encodes");
        let len = wire.len();
        wire.extend_from_slice(b"payload");
        for n in 0..len {
            assert_eq!(read(&wire[..n], ANY), Read::More, "after {n} bytes");
        }
        let (h, n) = done(read(&wire, ANY));
        assert_eq!(n, len);
        assert_eq!(h.version, 2);
        assert_eq!(h.addresses.expect("addr").0.port(), 5555);
        assert_eq!(h.tlvs.authority.as_deref(), Some("example.org"));
        assert_eq!(h.tlvs.unique_id.as_deref(), Some(&b"abc-123"[..]));
        assert_eq!(h.tlvs.aws_vpce_id.as_deref(), Some("vpce-0123"));
        let mut local = Vec::new();
        ProxyHeader::with_local()
            .encode_v2(&mut local)
            .expect("encodes");
        assert_eq!(done(read(&local, ANY)).0.addresses, None);
    }

    #[test]
    fn bad_input_is_judged_as_early_as_possible() {
        assert_eq!(read(b"G", ANY), Read::Bad(Bad::NoSignature));
        assert_eq!(read(b"PROXZ", ANY), Read::Bad(Bad::NoSignature));
        assert_eq!(
            read(b"\r\n\r\n\x00\r\nQUIX", ANY),
            Read::Bad(Bad::NoSignature)
        );
        let v1_only = Accept {
            v1: true,
            v2: false,
        };
        let v2_only = Accept {
            v1: false,
            v2: true,
        };
        assert_eq!(read(b"\r", v1_only), Read::Bad(Bad::Version(2)));
        assert_eq!(read(b"P", v2_only), Read::Bad(Bad::Version(1)));
        // The fuzz target's minimised input: the verdict of the first byte stands.
        assert_eq!(read(b"\r\x9c", v1_only), Read::Bad(Bad::Version(2)));
        let long = [b"PROXY TCP4 ".as_slice(), &[b'1'; 100]].concat();
        assert_eq!(read(&long, ANY), Read::Bad(Bad::TooLong));
        assert_eq!(
            read(b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\xff\xff", ANY),
            Read::Bad(Bad::TooLong)
        );
        assert_eq!(
            read(b"\r\n\r\n\x00\r\nQUIT\n\x31", ANY),
            Read::Bad(Bad::Malformed)
        );
        for line in [
            &b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"[..],
            b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
            b"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 70000\r\n",
            b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
        ] {
            assert_eq!(read(line, ANY), Read::Bad(Bad::Malformed), "{line:?}");
        }
        // A v2 block whose address part is shorter than its family needs.
        assert_eq!(
            read(
                b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x04\x01\x02\x03\x04",
                ANY
            ),
            Read::Bad(Bad::Malformed)
        );
    }

    #[test]
    fn encoded_headers_read_back() {
        let c: SocketAddr = "[::ffff:192.0.2.1]:1234".parse().expect("addr");
        let d: SocketAddr = "127.0.0.1:80".parse().expect("addr");
        for v in [1, 2] {
            let wire = encode(v, c, d);
            let (h, n) = done(read(&wire, ANY));
            assert_eq!(n, wire.len());
            assert_eq!(h.addresses, Some(("192.0.2.1:1234".parse().expect("a"), d)));
        }
        let six: SocketAddr = "[2001:db8::1]:1".parse().expect("addr");
        assert_eq!(done(read(&encode(1, six, d), ANY)).0.addresses, None);
    }
}
