// Tokio current_thread HTTP/1.1 keep-alive "plaintext" server (TechEmpower style):
// every request (ended by an empty line) gets a fixed 200 "Hello, World!" reply.
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nServer: tokio\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

fn find_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let host = args.next().unwrap_or_else(|| "127.0.0.1".into());
    let port = args.next().unwrap_or_else(|| "8080".into());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = TcpListener::bind(format!("{}:{}", host, port)).await.expect("bind");
        loop {
            let (mut sock, _) = match listener.accept().await {
                Ok(c) => c,
                Err(_) => continue,
            };
            let _ = sock.set_nodelay(true);
            tokio::spawn(async move {
                let mut inbuf: Vec<u8> = Vec::with_capacity(4096);
                let mut out: Vec<u8> = Vec::with_capacity(4096);
                let mut chunk = [0u8; 4096];
                loop {
                    let n = match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    inbuf.extend_from_slice(&chunk[..n]);
                    // answer every complete request in the buffer (pipelining-safe)
                    let mut start = 0;
                    while let Some(end) = find_end(&inbuf[start..]) {
                        out.extend_from_slice(RESP);
                        start += end;
                    }
                    inbuf.drain(..start);
                    if inbuf.len() > 65536 {
                        return;
                    }
                    if !out.is_empty() {
                        if sock.write_all(&out).await.is_err() {
                            return;
                        }
                        out.clear();
                    }
                }
            });
        }
    });
}
