//! `autodidact-bench-server`: a benchmark double of an OpenAI-compatible server that answers
//! every chat request after a fixed latency. Prints `listening on http://ADDR` on stdout once
//! it accepts connections, and its request count on stderr when stopped (Ctrl-C or SIGTERM).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use autodidact_bench_server::{Settings, router_with_stats};
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "autodidact-bench-server",
    about = "A benchmark double (not a model): an OpenAI-compatible chat server answering after a fixed latency"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Port to listen on; 0 picks a free one (the address is printed).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Milliseconds each answer waits before it is sent.
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,
    /// Words in each completion.
    #[arg(long, default_value_t = 64)]
    words: usize,
    /// Threads of the server's runtime (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = runtime
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let settings = Settings {
        latency: Duration::from_millis(args.latency_ms),
        words: args.words,
    };
    let (app, stats) = router_with_stats(settings);
    let addr = SocketAddr::new(args.host, args.port);
    let listener = listen(addr).with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener
        .local_addr()
        .context("cannot read the bound address")?;
    // Scripts wait for this line: once it is printed, connections are accepted.
    println!(
        "listening on http://{local} (latency {} ms)",
        args.latency_ms
    );
    let server = axum::serve(listener, app);
    tokio::select! {
        result = server => result.context("the server stopped")?,
        () = stop_signal() => {}
    }
    eprintln!(
        "autodidact-bench-server: {} chat requests received",
        stats.requests()
    );
    Ok(())
}

/// A listener with a long accept queue: a benchmark opens a thousand connections at once, and
/// the usual backlog of 128 drops SYNs that are then retried only after a second, which
/// would show up as the server's slowness.
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// Ctrl-C or SIGTERM (what `kill` sends), whichever comes first.
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
