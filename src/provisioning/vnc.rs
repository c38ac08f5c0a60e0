//! The browser console's relay: RFB (the VNC protocol, RFC 6143) between a customer's browser
//! and a VM's `vncwebsocket` on Proxmox, with our server in the middle.
//!
//! The relay answers Proxmox's VNC authentication itself, with the one-session password
//! `vncproxy` generated, and offers the browser security type "None": the ticket and the
//! password never leave our server. After the handshake it copies bytes both ways until one side
//! closes, nothing moves for the idle time, the session's time is up, or `stop` says the server
//! went away.
//!
//! Both sides are [`Wire`]s (whole websocket payloads in, whole payloads out); RFB is a byte
//! stream, so the handshake reads through a buffer and never assumes where frames break.

use std::future::Future;
use std::time::Duration;

use des::Des;
use des::cipher::{BlockEncrypt, KeyInit, generic_array::GenericArray};
use futures_util::{SinkExt, StreamExt};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::proxmox::VncStream;

/// One side of the relay: a websocket carrying binary payloads.
pub trait Wire: Send {
    /// The next binary payload; `None` once the peer closed (text, ping and pong frames are
    /// skipped).
    fn recv(&mut self) -> impl Future<Output = Option<Result<Vec<u8>, String>>> + Send;
    /// Sends one binary payload.
    fn send(&mut self, data: Vec<u8>) -> impl Future<Output = Result<(), String>> + Send;
}

impl Wire for VncStream {
    async fn recv(&mut self) -> Option<Result<Vec<u8>, String>> {
        loop {
            return match self.next().await? {
                Ok(Message::Binary(data)) => Some(Ok(data.to_vec())),
                Ok(Message::Close(_)) => None,
                Ok(_) => continue,
                Err(err) => Some(Err(err.to_string())),
            };
        }
    }

    async fn send(&mut self, data: Vec<u8>) -> Result<(), String> {
        SinkExt::send(self, Message::Binary(data.into()))
            .await
            .map_err(|err| err.to_string())
    }
}

/// Why a handshake or a relay ended early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    /// The browser spoke something other than RFB 3.8, or closed during the handshake.
    #[error("the browser's console client: {0}")]
    Browser(String),
    /// The VM's console refused or broke off.
    #[error("the server's console: {0}")]
    Server(String),
}

/// A side's payloads read as a byte stream.
struct Buffered<'a, W: Wire> {
    wire: &'a mut W,
    buf: Vec<u8>,
}

impl<'a, W: Wire> Buffered<'a, W> {
    fn new(wire: &'a mut W) -> Self {
        Self {
            wire,
            buf: Vec::new(),
        }
    }

    /// Exactly `n` bytes, or why not (`None` in the error: the peer closed).
    async fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, Option<String>> {
        while self.buf.len() < n {
            match self.wire.recv().await {
                Some(Ok(data)) => self.buf.extend_from_slice(&data),
                Some(Err(err)) => return Err(Some(err)),
                None => return Err(None),
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// A `u32` length and that many bytes of text (RFB's reason strings), at most 1 KiB kept.
    async fn read_reason(&mut self) -> String {
        let Ok(len) = self.read_exact(4).await else {
            return String::new();
        };
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        match self.read_exact(len.min(1024)).await {
            Ok(text) => String::from_utf8_lossy(&text).into_owned(),
            Err(_) => String::new(),
        }
    }
}

fn closed(side: Option<String>) -> String {
    side.unwrap_or_else(|| "closed the connection".to_owned())
}

const VERSION_3_8: &[u8; 12] = b"RFB 003.008\n";
const SECURITY_NONE: u8 = 1;
const SECURITY_VNC: u8 = 2;

/// Speaks RFB 3.8 with both sides up to the end of the security phase: the server gets the VNC
/// password's answer to its challenge, the browser gets "None" and the server's verdict. Bytes
/// either side sent early are passed on. A refusal by the server is told to the browser as
/// RFB's failure with the reason.
pub async fn handshake<B: Wire, P: Wire>(
    browser: &mut B,
    server: &mut P,
    password: &str,
) -> Result<(), RelayError> {
    let server_err = |e: Option<String>| RelayError::Server(closed(e));
    let browser_err = |e: Option<String>| RelayError::Browser(closed(e));
    let (browser_rest, server_rest) = {
        let mut b = Buffered::new(browser);
        let mut p = Buffered::new(server);
        let version = p.read_exact(12).await.map_err(server_err)?;
        if !version.starts_with(b"RFB 003.") || version.as_slice() < &VERSION_3_8[..] {
            return Err(RelayError::Server(format!(
                "speaks {:?}, not RFB 3.8",
                String::from_utf8_lossy(&version)
            )));
        }
        send(b.wire, VERSION_3_8.to_vec(), RelayError::Browser).await?;
        let chosen = b.read_exact(12).await.map_err(browser_err)?;
        if chosen.as_slice() != VERSION_3_8 {
            return Err(RelayError::Browser(format!(
                "answered {:?}, not RFB 3.8",
                String::from_utf8_lossy(&chosen)
            )));
        }
        send(p.wire, VERSION_3_8.to_vec(), RelayError::Server).await?;
        let count = p.read_exact(1).await.map_err(server_err)?[0];
        if count == 0 {
            let reason = p.read_reason().await;
            refuse(b.wire, &reason).await;
            return Err(RelayError::Server(format!("refused: {reason}")));
        }
        let types = p.read_exact(usize::from(count)).await.map_err(server_err)?;
        let answer = if types.contains(&SECURITY_VNC) {
            SECURITY_VNC
        } else if types.contains(&SECURITY_NONE) {
            SECURITY_NONE
        } else {
            let reason = "no security type the relay speaks";
            refuse(b.wire, reason).await;
            return Err(RelayError::Server(format!("{reason} ({types:?})")));
        };
        send(b.wire, vec![1, SECURITY_NONE], RelayError::Browser).await?;
        let picked = b.read_exact(1).await.map_err(browser_err)?[0];
        if picked != SECURITY_NONE {
            return Err(RelayError::Browser(format!(
                "picked security type {picked}"
            )));
        }
        send(p.wire, vec![answer], RelayError::Server).await?;
        if answer == SECURITY_VNC {
            let challenge = p.read_exact(16).await.map_err(server_err)?;
            let response = vnc_response(password, &challenge);
            send(p.wire, response.to_vec(), RelayError::Server).await?;
        }
        let result = p.read_exact(4).await.map_err(server_err)?;
        if result != [0, 0, 0, 0] {
            let reason = p.read_reason().await;
            let reason = if reason.is_empty() {
                "authentication failed".to_owned()
            } else {
                reason
            };
            refuse_after_choice(b.wire, &reason).await;
            return Err(RelayError::Server(format!("refused: {reason}")));
        }
        send(b.wire, vec![0, 0, 0, 0], RelayError::Browser).await?;
        (std::mem::take(&mut b.buf), std::mem::take(&mut p.buf))
    };
    if !browser_rest.is_empty() {
        send(server, browser_rest, RelayError::Server).await?;
    }
    if !server_rest.is_empty() {
        send(browser, server_rest, RelayError::Browser).await?;
    }
    Ok(())
}

/// Tells a browser that just connected why its console cannot open: RFB's version, then "no
/// security types" with `reason` (noVNC shows it as the security failure's reason).
pub async fn refuse_browser<W: Wire>(browser: &mut W, reason: &str) {
    if browser.send(VERSION_3_8.to_vec()).await.is_err() {
        return;
    }
    let mut b = Buffered::new(browser);
    if b.read_exact(12).await.is_ok() {
        refuse(b.wire, reason).await;
    }
}

async fn send<W: Wire>(
    wire: &mut W,
    data: Vec<u8>,
    side: fn(String) -> RelayError,
) -> Result<(), RelayError> {
    wire.send(data).await.map_err(side)
}

/// RFB's "no security types" with a reason (before the browser chose).
async fn refuse<W: Wire>(browser: &mut W, reason: &str) {
    let mut out = vec![0u8];
    out.extend_from_slice(&reason_bytes(reason));
    let _ = browser.send(out).await;
}

/// RFB 3.8's failed SecurityResult with a reason (after the browser chose).
async fn refuse_after_choice<W: Wire>(browser: &mut W, reason: &str) {
    let mut out = vec![0, 0, 0, 1];
    out.extend_from_slice(&reason_bytes(reason));
    let _ = browser.send(out).await;
}

fn reason_bytes(reason: &str) -> Vec<u8> {
    let text = reason.as_bytes();
    let mut out = u32::try_from(text.len())
        .unwrap_or(0)
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(text);
    out
}

/// VNC authentication's answer: the challenge's two blocks DES-encrypted with the password's
/// first 8 bytes (zero-padded), each byte's bits reversed (RFC 6143 §7.2.2, as every VNC server
/// does it).
pub fn vnc_response(password: &str, challenge: &[u8]) -> [u8; 16] {
    let mut key = [0u8; 8];
    for (slot, byte) in key.iter_mut().zip(password.bytes()) {
        *slot = byte.reverse_bits();
    }
    let cipher = Des::new(GenericArray::from_slice(&key));
    let mut out = [0u8; 16];
    for (block, chunk) in out.chunks_mut(8).zip(challenge.chunks(8)) {
        let mut data = GenericArray::clone_from_slice(&{
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            b
        });
        cipher.encrypt_block(&mut data);
        block.copy_from_slice(&data);
    }
    out
}

/// How long a console may stay open.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Closed after this long with nothing sent either way.
    pub idle: Duration,
    /// Closed after this long whatever happens.
    pub max: Duration,
}

/// How a relay ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The browser closed (the customer left the page).
    BrowserClosed,
    /// The VM's console closed (the VM stopped or rebooted into a new console).
    ServerClosed,
    /// Nothing moved for [`Bounds::idle`].
    Idle,
    /// [`Bounds::max`] passed.
    TimeUp,
    /// `stop` resolved, with its reason (the server was stopped or suspended).
    Stopped(String),
    /// A side failed.
    Failed(RelayError),
}

impl Ended {
    /// What the browser is told when the relay closes its side.
    pub fn message(&self) -> String {
        match self {
            Self::BrowserClosed => "Closed.".to_owned(),
            Self::ServerClosed => "The server closed its console.".to_owned(),
            Self::Idle => {
                "Closed after a while with no activity. Open the console again to carry on."
                    .to_owned()
            }
            Self::TimeUp => {
                "This console session reached its time limit. Open the console again to carry on."
                    .to_owned()
            }
            Self::Stopped(reason) => reason.clone(),
            Self::Failed(err) => format!("The console broke off ({err})."),
        }
    }
}

/// Copies payloads both ways until one side closes, nothing moves for `bounds.idle`,
/// `bounds.max` passes, or `stop` resolves.
pub async fn relay<B: Wire, P: Wire>(
    browser: &mut B,
    server: &mut P,
    bounds: Bounds,
    stop: impl Future<Output = String>,
) -> Ended {
    let started = Instant::now();
    let mut last = started;
    let mut stop = std::pin::pin!(stop);
    loop {
        let idle_at = last + bounds.idle;
        tokio::select! {
            from_browser = browser.recv() => match from_browser {
                Some(Ok(data)) => {
                    last = Instant::now();
                    if let Err(err) = server.send(data).await {
                        return Ended::Failed(RelayError::Server(err));
                    }
                }
                Some(Err(err)) => return Ended::Failed(RelayError::Browser(err)),
                None => return Ended::BrowserClosed,
            },
            from_server = server.recv() => match from_server {
                Some(Ok(data)) => {
                    last = Instant::now();
                    if let Err(err) = browser.send(data).await {
                        return Ended::Failed(RelayError::Browser(err));
                    }
                }
                Some(Err(err)) => return Ended::Failed(RelayError::Server(err)),
                None => return Ended::ServerClosed,
            },
            () = tokio::time::sleep_until(idle_at) => return Ended::Idle,
            () = tokio::time::sleep_until(started + bounds.max) => return Ended::TimeUp,
            reason = &mut stop => return Ended::Stopped(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// A scripted side: hands out `incoming` payloads, records what was sent.
    struct Script {
        incoming: VecDeque<Vec<u8>>,
        sent: Vec<Vec<u8>>,
    }

    impl Script {
        fn new(incoming: &[&[u8]]) -> Self {
            Self {
                incoming: incoming.iter().map(|p| p.to_vec()).collect(),
                sent: Vec::new(),
            }
        }
    }

    impl Wire for Script {
        async fn recv(&mut self) -> Option<Result<Vec<u8>, String>> {
            match self.incoming.pop_front() {
                Some(data) => Some(Ok(data)),
                None => std::future::pending().await,
            }
        }

        async fn send(&mut self, data: Vec<u8>) -> Result<(), String> {
            self.sent.push(data);
            Ok(())
        }
    }

    #[test]
    fn the_vnc_answer_is_des_with_bit_reversed_key_bytes() {
        // The answer to an all-zero challenge with the password "password", as a VNC server
        // checks it (single DES, bit-reversed key bytes; computed independently with Python's
        // `cryptography`).
        let challenge = [0u8; 16];
        let answer = vnc_response("password", &challenge);
        assert_eq!(hex::encode(answer), "ff97502e9422f089ff97502e9422f089");
        // Only the first 8 bytes of a password count.
        assert_eq!(vnc_response("password-longer", &challenge), answer);
        assert_ne!(vnc_response("passwore", &challenge), answer);
    }

    #[tokio::test]
    async fn the_browser_gets_security_none_and_the_server_the_password() {
        // The browser's version and choice arrive in one payload, with its ClientInit.
        let mut browser = Script::new(&[b"RFB 003.008\n", b"\x01\x01"]);
        let challenge = [7u8; 16];
        let mut server = Script::new(&[
            b"RFB 003.008\n\x01",
            b"\x02",
            &challenge,
            b"\0\0\0\0ServerInit...",
        ]);
        handshake(&mut browser, &mut server, "s3cret")
            .await
            .unwrap();
        assert_eq!(
            browser.sent,
            vec![
                b"RFB 003.008\n".to_vec(),
                vec![1, 1],
                vec![0, 0, 0, 0],
                b"ServerInit...".to_vec()
            ]
        );
        assert_eq!(
            server.sent,
            vec![
                b"RFB 003.008\n".to_vec(),
                vec![2],
                vnc_response("s3cret", &challenge).to_vec(),
                // The ClientInit the browser sent with its choice.
                vec![1],
            ]
        );
    }

    #[tokio::test]
    async fn a_refusal_by_the_server_reaches_the_browser_with_its_reason() {
        let mut browser = Script::new(&[b"RFB 003.008\n", b"\x01"]);
        let mut server = Script::new(&[
            b"RFB 003.008\n",
            b"\x01\x02",
            &[9u8; 16],
            b"\0\0\0\x01\0\0\0\x0bbad ticket!",
        ]);
        let err = handshake(&mut browser, &mut server, "x").await.unwrap_err();
        assert_eq!(err, RelayError::Server("refused: bad ticket!".into()));
        let last = browser.sent.last().unwrap();
        assert_eq!(&last[..4], &[0, 0, 0, 1]);
        assert!(last.ends_with(b"bad ticket!"));
    }

    #[tokio::test]
    async fn a_browser_speaking_an_older_rfb_is_refused() {
        let mut browser = Script::new(&[b"RFB 003.003\n"]);
        let mut server = Script::new(&[b"RFB 003.008\n"]);
        let err = handshake(&mut browser, &mut server, "x").await.unwrap_err();
        assert!(matches!(err, RelayError::Browser(_)), "{err:?}");
        assert!(server.sent.is_empty(), "the server heard nothing");
    }

    #[tokio::test]
    async fn a_quiet_relay_closes_after_the_idle_time_and_stop_wins_when_given() {
        let bounds = Bounds {
            idle: Duration::from_millis(50),
            max: Duration::from_secs(600),
        };
        let mut browser = Script::new(&[b"key"]);
        let mut server = Script::new(&[b"frame"]);
        let ended = relay(&mut browser, &mut server, bounds, std::future::pending()).await;
        assert_eq!(ended, Ended::Idle);
        assert_eq!(server.sent, vec![b"key".to_vec()]);
        assert_eq!(browser.sent, vec![b"frame".to_vec()]);

        let ended = relay(&mut browser, &mut server, bounds, async {
            "The server was stopped.".to_owned()
        })
        .await;
        assert_eq!(ended, Ended::Stopped("The server was stopped.".into()));
    }
}
