//! Decision time for `only_from` lists of 10, 1,000 and 100,000 IPv4 CIDR entries: the trie-backed
//! `AccessPolicy::decide` against a linear scan over the same networks (what xinetd's
//! `addrlist_match` does, extended to find the most specific entry, which needs the whole list).
//!
//! Run: `cargo bench -p xinetd-acl --bench lookup`.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ipnet::Ipv4Net;
use xinetd_acl::{AccessList, AccessPolicy, LocalTime, Resolved, StaticResolver};

/// Deterministic pseudo-random numbers (xorshift64*), so every run measures the same lists.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn networks(n: usize, rng: &mut Rng) -> Vec<Ipv4Net> {
    (0..n)
        .map(|_| {
            let r = rng.next();
            let len = 8 + (r % 25) as u8; // /8 .. /32
            Ipv4Net::new(Ipv4Addr::from((r >> 32) as u32), len)
                .expect("length <= 32")
                .trunc()
        })
        .collect()
}

/// Most specific matching prefix length, by scanning every entry.
fn linear_best(nets: &[Ipv4Net], peer: Ipv4Addr) -> Option<u8> {
    let mut best = None;
    for n in nets {
        if n.contains(&peer) && best.is_none_or(|b| n.prefix_len() > b) {
            best = Some(n.prefix_len());
        }
    }
    best
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("only_from_decision");
    group.sample_size(30);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    let none = StaticResolver::new();
    let now = LocalTime::new(12, 0).expect("valid time");
    for &n in &[10usize, 1_000, 100_000] {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ n as u64);
        let nets = networks(n, &mut rng);
        let texts: Vec<String> = nets.iter().map(ToString::to_string).collect();
        let (list, _) = AccessList::from_values(texts.iter().map(String::as_str), &none)
            .expect("generated CIDR values parse");
        let policy = AccessPolicy::new(Some(list), None, None);
        // Half the probes inside some network, half random.
        let peers: Vec<Ipv4Addr> = (0..1024)
            .map(|i| {
                let r = rng.next();
                if i % 2 == 0 {
                    let net = nets[(r as usize) % nets.len()];
                    let host_bits = 32 - u32::from(net.prefix_len());
                    let offset = if host_bits == 0 {
                        0
                    } else {
                        ((r >> 32) as u32) & (u32::MAX >> (32 - host_bits))
                    };
                    Ipv4Addr::from(u32::from(net.network()) | offset)
                } else {
                    Ipv4Addr::from((r >> 32) as u32)
                }
            })
            .collect();
        let resolved = Resolved::none();
        group.bench_with_input(BenchmarkId::new("trie_decide", n), &n, |b, _| {
            let mut i = 0usize;
            b.iter(|| {
                i = (i + 1) % peers.len();
                black_box(policy.decide(IpAddr::V4(peers[i]), now, &resolved))
            })
        });
        group.bench_with_input(BenchmarkId::new("linear_scan", n), &n, |b, _| {
            let mut i = 0usize;
            b.iter(|| {
                i = (i + 1) % peers.len();
                black_box(linear_best(&nets, peers[i]))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
