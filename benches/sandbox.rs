//! Requests per second the sandbox serves with no injected latency.
//!
//! Run with `cargo bench --bench sandbox`. The sandbox runs in-process on 127.0.0.1:0 and
//! is driven over real HTTP by 64 keep-alive connections; client and server share the
//! machine, so the figure is a floor for the server alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nicsrs_batch::sandbox::{Config, Sandbox};
use serde_json::json;

const CONCURRENCY: usize = 64;
const PLACE: usize = 20_000;
const LOOKUP: usize = 40_000;
const ROUNDS: usize = 3;

async fn drive(
    url: Arc<String>,
    total: usize,
    make: Arc<dyn Fn(usize) -> Vec<(String, String)> + Send + Sync>,
) -> Duration {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .expect("client");
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(CONCURRENCY);
    for _ in 0..CONCURRENCY {
        let (client, next, url, make) = (client.clone(), next.clone(), url.clone(), make.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let reply: serde_json::Value = client
                    .post(url.as_str())
                    .form(&make(i))
                    .send()
                    .await
                    .expect("reply")
                    .json()
                    .await
                    .expect("JSON");
                assert!(reply["code"] == 1 || reply["code"] == -1, "{reply}");
            }
        }));
    }
    for w in workers {
        w.await.expect("worker");
    }
    started.elapsed()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let params = json!({"server": "nginx",
            "Administrator": {"job": "CTO", "firstName": "Ana", "lastName": "Silva", "email": "ana@acme.example",
                "mobile": "+351210000000", "organization": "Acme Lda", "organation": "Acme Lda", "address": "Rua Augusta 1",
                "city": "Lisboa", "state": "Lisboa", "postCode": "1100-048", "country": "PT"},
            "domainInfo": [{"domainName": "www.acme.example", "dcvMethod": "HTTP_CSR_HASH"}]})
        .to_string();
        let mut place_rates = Vec::new();
        let mut lookup_rates = Vec::new();
        for round in 0..ROUNDS {
            let sandbox = Sandbox::start(Config::default(), "127.0.0.1:0".parse().expect("addr")).await.expect("sandbox");
            let params = params.clone();
            let place = Arc::new(move |i: usize| {
                vec![
                    ("api_token".into(), "sandbox".into()),
                    ("productCode".into(), "comodo-positivessl".into()),
                    ("years".into(), "1".into()),
                    ("refId".into(), format!("bench-{round}-{i}")),
                    ("params".into(), params.clone()),
                ]
            });
            let took = drive(Arc::new(format!("{}/ssl/place", sandbox.url())), PLACE, place).await;
            place_rates.push(PLACE as f64 / took.as_secs_f64());
            let lookup = Arc::new(move |i: usize| {
                vec![("api_token".into(), "sandbox".into()), ("refId".into(), format!("bench-{round}-{}", i % PLACE))]
            });
            let took = drive(Arc::new(format!("{}/ssl/certIdByrefId", sandbox.url())), LOOKUP, lookup).await;
            lookup_rates.push(LOOKUP as f64 / took.as_secs_f64());
            sandbox.stop().await.expect("stop");
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "sandbox, latency 0, {CONCURRENCY} connections: place median {:.0} req/s ({PLACE} orders), certIdByrefId median {:.0} req/s, over {ROUNDS} rounds",
            median(&mut place_rates),
            median(&mut lookup_rates)
        );
    });
}
