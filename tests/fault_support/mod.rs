//! Helpers for the fault tests: the real `clicom serve` binary on a port of the test's choosing
//! (so a restarted server comes back where its clients expect it), optionally under a file-size
//! limit that makes the disk "fill up", and raw-socket WebSocket bits for cutting frames in half.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::WAIT;

/// A running `clicom serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub url: String,
    /// Everything the server wrote to stderr so far (its log).
    pub log: Arc<Mutex<String>>,
}

/// How to start the server process.
pub struct Launch<'a> {
    /// `0` for an ephemeral port.
    pub port: u16,
    pub args: &'a [&'a str],
    pub data_dir: &'a Path,
    /// Run under `ulimit -f` with this many KiB (SIGXFSZ ignored, so writes past it fail with
    /// EFBIG instead of killing the process): a disk that fills up, even for root.
    pub file_size_limit_kib: Option<u64>,
}

pub async fn start(launch: Launch<'_>) -> Server {
    let bin = env!("CARGO_BIN_EXE_clicom");
    let port = launch.port.to_string();
    let mut serve: Vec<&str> = vec!["serve", "--bind", "127.0.0.1", "--port", &port];
    serve.extend_from_slice(launch.args);
    let mut command = match launch.file_size_limit_kib {
        None => {
            let mut c = Command::new(bin);
            c.args(&serve);
            c
        }
        Some(kib) => {
            let mut c = Command::new("bash");
            c.arg("-c")
                .arg(format!("trap '' XFSZ; ulimit -f {kib}; exec \"$0\" \"$@\""))
                .arg(bin)
                .args(&serve);
            c
        }
    };
    let mut child = command
        .env("CLICOM_DATA_DIR", launch.data_dir)
        .env_remove("PORT")
        .env_remove("CLICOM_SERVER_CONFIG")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the clicom binary starts");

    let log = Arc::new(Mutex::new(String::new()));
    let mut stderr = child.stderr.take().unwrap();
    let sink = Arc::clone(&log);
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf).await {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });

    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let (url, addr) = crate::support::announced_address(&mut lines)
        .await
        .unwrap_or_else(|| panic!("the server exited: {}", log.lock().unwrap()));
    // Keep reading stdout so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Server {
        child,
        addr,
        url,
        log,
    }
}

impl Server {
    /// SIGKILL, then reap it.
    pub async fn kill9(mut self) {
        self.child.start_kill().unwrap();
        tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the killed server is reaped")
            .unwrap();
    }

    /// `true` while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

/// One masked client frame header (FIN set) for `opcode` announcing `len` payload bytes, plus
/// the mask key. Used to send frames the client library would never send: cut or malformed.
pub fn frame_header(opcode: u8, len: u64, mask: [u8; 4]) -> Vec<u8> {
    let mut header = vec![0x80 | opcode];
    match len {
        0..=125 => header.push(0x80 | len as u8),
        126..=0xFFFF => {
            header.push(0x80 | 126);
            header.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            header.push(0x80 | 127);
            header.extend_from_slice(&len.to_be_bytes());
        }
    }
    header.extend_from_slice(&mask);
    header
}

/// `payload` masked with `mask`, as a client must send it.
pub fn masked(payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    payload
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect()
}

/// A raw TCP connection upgraded to a WebSocket by hand (no WebSocket library on this side),
/// so the test controls every byte, including the ones it never sends.
pub async fn raw_websocket(addr: SocketAddr, path: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    // Read the response byte by byte so no frame after it is swallowed.
    let mut head = Vec::new();
    tokio::time::timeout(WAIT, async {
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(
                stream.read(&mut byte).await.unwrap(),
                1,
                "the server hung up"
            );
            head.push(byte[0]);
        }
    })
    .await
    .expect("the handshake answer in time");
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream
}

/// A whole masked text frame.
pub fn text_frame(text: &str) -> Vec<u8> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut frame = frame_header(0x1, text.len() as u64, mask);
    frame.extend(masked(text.as_bytes(), mask));
    frame
}
