//! A wait for a container's end that the engine has taken before the container
//! starts, as `docker run` asks for it. bollard sends a wait only when its stream is
//! first read, which for a one-off is once its output has ended: the container is
//! then being removed, and a wait for the removal that reaches the engine as it
//! finishes is never answered (the engine makes a new channel for later waiters).

use std::path::Path;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::UnixStream;

use crate::engine::EngineError;

/// A wait the engine has taken: its answer is the container's exit code.
pub struct ExitWait {
    connection: UnixStream,
    /// What was read past the answer's headers.
    body: Vec<u8>,
}

impl ExitWait {
    /// Asks the engine at `socket` to answer once `container` reached `condition`
    /// (`next-exit`, `removed`: a `not-running` asked for before the start is answered at once), and returns once it has taken the wait: the
    /// engine sends the answer's headers when it has.
    pub async fn register(
        socket: &Path,
        container: &str,
        condition: &str,
    ) -> Result<Self, EngineError> {
        let mut connection = UnixStream::connect(socket).await?;
        let request = format!(
            "POST /containers/{container}/wait?condition={condition} HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        connection.write_all(request.as_bytes()).await?;
        let mut read = Vec::new();
        let end_of_headers = loop {
            if let Some(at) = read.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if read_more(&mut connection, &mut read).await? == 0 {
                return Err(refused(&read));
            }
        };
        let status_line = String::from_utf8_lossy(&read[..end_of_headers]);
        if status_line.split(' ').nth(1) != Some("200") {
            while read_more(&mut connection, &mut read).await? > 0 {}
            return Err(refused(&read));
        }
        Ok(Self {
            connection,
            body: read.split_off(end_of_headers),
        })
    }

    /// Waits for the answer: the container's exit code.
    pub async fn exit_code(mut self) -> Result<i64, EngineError> {
        while read_more(&mut self.connection, &mut self.body).await? > 0 {}
        status_code(&self.body)
            .ok_or_else(|| EngineError::Wait(String::from_utf8_lossy(&self.body).into_owned()))
    }
}

async fn read_more(connection: &mut UnixStream, into: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut buffer = [0u8; 4096];
    let n = connection.read(&mut buffer).await?;
    into.extend_from_slice(&buffer[..n]);
    Ok(n)
}

/// The JSON object in a body, whether the engine sent it chunked or not.
fn json_within(body: &[u8]) -> Option<&[u8]> {
    let start = body.iter().position(|&b| b == b'{')?;
    let end = body.iter().rposition(|&b| b == b'}')?;
    (start < end).then(|| &body[start..=end])
}

/// The exit code in the engine's answer (`{"Error":…,"StatusCode":N}`).
fn status_code(body: &[u8]) -> Option<i64> {
    let answer: serde_json::Value = serde_json::from_slice(json_within(body)?).ok()?;
    answer["StatusCode"].as_i64()
}

/// The engine refused the wait: its message, else what it answered.
fn refused(answer: &[u8]) -> EngineError {
    let message = json_within(answer)
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(json).ok())
        .and_then(|value| value["message"].as_str().map(str::to_owned));
    EngineError::Wait(message.unwrap_or_else(|| String::from_utf8_lossy(answer).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_found_chunked_or_not() {
        let chunked = b"1e\r\n{\"Error\":null,\"StatusCode\":3}\n\r\n0\r\n\r\n";
        let plain = b"{\"Error\":{\"Message\":\"x\"},\"StatusCode\":137}\n";
        assert_eq!(status_code(chunked), Some(3));
        assert_eq!(status_code(plain), Some(137));
        assert_eq!(status_code(b"0\r\n\r\n"), None);
    }

    /// An engine stand-in on a socket: answers a wait with `headers`, and once told
    /// to, with `body`; what it was asked goes back on `asked`.
    fn engine(
        socket: &Path,
        headers: &'static str,
        body: &'static str,
    ) -> (
        tokio::sync::oneshot::Sender<()>,
        tokio::sync::oneshot::Receiver<String>,
    ) {
        let listener = tokio::net::UnixListener::bind(socket).unwrap();
        let (ended, end) = tokio::sync::oneshot::channel::<()>();
        let (tell, asked) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut connection, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 4096];
            let n = connection.read(&mut request).await.unwrap();
            let _ = tell.send(String::from_utf8_lossy(&request[..n]).into_owned());
            connection.write_all(headers.as_bytes()).await.unwrap();
            let _ = end.await;
            connection.write_all(body.as_bytes()).await.unwrap();
        });
        (ended, asked)
    }

    #[tokio::test]
    async fn the_wait_is_taken_before_register_returns_and_gives_the_exit_code() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("engine.sock");
        let (end, asked) = engine(
            &socket,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            "1e\r\n{\"Error\":null,\"StatusCode\":7}\n\r\n0\r\n\r\n",
        );
        let wait = ExitWait::register(&socket, "abc", "removed").await.unwrap();
        let asked = asked.await.unwrap();
        assert!(
            asked.starts_with("POST /containers/abc/wait?condition=removed HTTP/1.1\r\n"),
            "{asked}"
        );
        let _ = end.send(());
        assert_eq!(wait.exit_code().await.unwrap(), 7);
    }

    #[tokio::test]
    async fn a_refused_wait_says_the_engines_words() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("engine.sock");
        // The answer ends at once: the stand-in is told to end it.
        let (end, _) = engine(
            &socket,
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n{\"message\":\"No such container: abc\"}\n",
            "",
        );
        drop(end);
        let refused = ExitWait::register(&socket, "abc", "removed").await;
        let Err(EngineError::Wait(said)) = refused else {
            panic!("refused");
        };
        assert_eq!(said, "No such container: abc");
    }
}
