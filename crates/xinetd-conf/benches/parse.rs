//! Parse speed: a generated configuration of 1,000 services (docs/performance.md).
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use xinetd_conf::{load_bytes, parse_document, Environment, LoadOptions};

/// 1,000 services mixing internal and external ones with the attributes real files use.
fn generated(n: usize) -> String {
    let mut s = String::from(
        "defaults\n{\n\tlog_type = SYSLOG daemon info\n\tlog_on_failure = HOST\n\tinstances = 50\n\tcps = 100 5\n}\n\n",
    );
    for i in 0..n {
        if i % 2 == 0 {
            s.push_str(&format!(
                "# internal service {i}\nservice echo\n{{\n\tid\t\t= echo-{i}\n\ttype\t\t= INTERNAL UNLISTED\n\tsocket_type\t= stream\n\tport\t\t= {}\n\twait\t\t= no\n\tonly_from\t= 127.0.0.1 10.0.{{1,2,3}} ::1\n}}\n\n",
                10000 + i
            ));
        } else {
            s.push_str(&format!(
                "service svc{i}\n{{\n\ttype\t\t= UNLISTED\n\tsocket_type\t= stream\n\tprotocol\t= tcp\n\tport\t\t= {}\n\twait\t\t= no\n\tuser\t\t= 65534\n\tserver\t\t= /usr/sbin/svc{i}\n\tserver_args\t= -a -b --flag=value\n\tlog_on_success\t+= PID HOST DURATION\n\tenv\t\t= A=1 B=2\n\taccess_times\t= 8:00-12:00 13:00-17:30\n\trlimit_as\t= 64M\n\tper_source\t= 5\n}}\n\n",
                10000 + i
            ));
        }
    }
    s
}

fn bench(c: &mut Criterion) {
    let text = generated(1000);
    let env = Environment::isolated();
    let mut g = c.benchmark_group("xinetd-conf");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("load 1000 services", |b| {
        b.iter(|| {
            let l = load_bytes(text.as_bytes(), "bench.conf", &env, &LoadOptions::new())
                .expect("loads");
            assert_eq!(l.config.services.len(), 1000);
            l
        })
    });
    g.bench_function("parse_document 1000 services", |b| {
        b.iter(|| parse_document(text.as_bytes(), "bench.conf"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
