//! A service's output cut into log lines. A program that never writes a newline (a
//! progress bar redrawn with `\r`, a binary dump) must not grow the daemon's memory or
//! make one record larger than a log file: like Docker, a line longer than 16 KiB is
//! cut, and the rest follows as the next line. Bytes that are not UTF-8 are replaced
//! rather than ending the stream (which would leave the service blocked on a full pipe).

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Docker's limit for one log record.
pub const MAX_LINE: usize = 16 * 1024;

/// Reads `output` to its end, handing each line (without its `\n` or `\r\n`) to `emit`.
pub async fn for_each_line(output: impl AsyncRead + Unpin, mut emit: impl FnMut(String)) {
    let mut reader = BufReader::with_capacity(MAX_LINE, output);
    let mut line: Vec<u8> = Vec::new();
    let mut flush = |line: &mut Vec<u8>| {
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        emit(String::from_utf8_lossy(line).into_owned());
        line.clear();
    };
    loop {
        let available = match reader.fill_buf().await {
            Ok(bytes) if !bytes.is_empty() => bytes,
            _ => break,
        };
        let room = MAX_LINE - line.len();
        let window = &available[..available.len().min(room)];
        if let Some(end) = window.iter().position(|b| *b == b'\n') {
            line.extend_from_slice(&window[..end]);
            reader.consume(end + 1);
            flush(&mut line);
        } else {
            let taken = window.len();
            line.extend_from_slice(window);
            reader.consume(taken);
            if line.len() >= MAX_LINE {
                flush(&mut line);
            }
        }
    }
    if !line.is_empty() {
        flush(&mut line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines_of(bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        for_each_line(bytes, |line| lines.push(line)).await;
        lines
    }

    #[tokio::test]
    async fn lines_end_at_newlines_and_crlf_and_at_the_end_of_output() {
        assert_eq!(lines_of(b"a\nb\r\nc").await, ["a", "b", "c"]);
        assert_eq!(lines_of(b"\n\n").await, ["", ""]);
    }

    #[tokio::test]
    async fn a_line_without_end_is_cut_at_16_kib() {
        let long = vec![b'x'; MAX_LINE * 2 + 5];
        let lines = lines_of(&long).await;
        let lengths: Vec<usize> = lines.iter().map(String::len).collect();
        assert_eq!(lengths, [MAX_LINE, MAX_LINE, 5]);
    }

    #[tokio::test]
    async fn bytes_that_are_not_utf8_are_replaced_and_reading_goes_on() {
        assert_eq!(lines_of(b"a\xff\nb\n").await, ["a\u{fffd}", "b"]);
    }
}
