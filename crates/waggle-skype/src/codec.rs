//! Framing of skyped's stream into lines: newline-terminated, a carriage return
//! before the newline dropped, invalid UTF-8 replaced rather than fatal, and a
//! maximum length so that a peer can never make us buffer without bound.
//!
//! BitlBee's plugin read into a fixed 1024-byte buffer and so cut long messages;
//! here a line may be as long as [`MAX_LINE`] (far more than any Skype message),
//! and a longer one is refused with [`LineError::TooLong`].

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// The longest line accepted from skyped, in bytes (1 MiB).
pub const MAX_LINE: usize = 1024 * 1024;

/// Why the stream of lines ended.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// The peer sent more than the maximum without a newline.
    #[error("skyped sent a line longer than {max} bytes")]
    TooLong {
        /// The limit in bytes.
        max: usize,
    },
    /// Reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A line codec with a maximum line length.
#[derive(Debug, Clone)]
pub struct LineCodec {
    max: usize,
    /// How far the buffer was already searched for a newline.
    searched: usize,
}

impl LineCodec {
    /// A codec refusing lines longer than `max` bytes (without the newline).
    pub fn new(max: usize) -> Self {
        LineCodec { max, searched: 0 }
    }

    fn take_line(&mut self, buf: &mut BytesMut, end: usize) -> String {
        let mut line = buf.split_to(end);
        buf.advance(1); // the newline
        self.searched = 0;
        if line.last() == Some(&b'\r') {
            line.truncate(line.len() - 1);
        }
        String::from_utf8_lossy(&line).into_owned()
    }
}

impl Default for LineCodec {
    fn default() -> Self {
        LineCodec::new(MAX_LINE)
    }
}

impl Decoder for LineCodec {
    type Item = String;
    type Error = LineError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<String>, LineError> {
        let start = self.searched.min(buf.len());
        match buf[start..].iter().position(|b| *b == b'\n') {
            Some(offset) => {
                let end = start + offset;
                if end > self.max + 1 {
                    return Err(LineError::TooLong { max: self.max });
                }
                let line = self.take_line(buf, end);
                if line.len() > self.max {
                    return Err(LineError::TooLong { max: self.max });
                }
                Ok(Some(line))
            }
            None if buf.len() > self.max + 1 => Err(LineError::TooLong { max: self.max }),
            None => {
                self.searched = buf.len();
                Ok(None)
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<String>, LineError> {
        if let Some(line) = self.decode(buf)? {
            return Ok(Some(line));
        }
        if buf.is_empty() {
            return Ok(None);
        }
        // A last line without its newline.
        let rest = buf.split_to(buf.len());
        self.searched = 0;
        let text = String::from_utf8_lossy(&rest);
        let line = text.trim_end_matches('\r');
        // The same limit as for a line with its newline (`take_line`'s result).
        if line.len() > self.max {
            return Err(LineError::TooLong { max: self.max });
        }
        Ok(Some(line.to_string()))
    }
}

impl<T: AsRef<str>> Encoder<T> for LineCodec {
    type Error = LineError;

    fn encode(&mut self, line: T, dst: &mut BytesMut) -> Result<(), LineError> {
        let line = line.as_ref();
        dst.reserve(line.len() + 1);
        dst.extend_from_slice(line.as_bytes());
        dst.extend_from_slice(b"\n");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(codec: &mut LineCodec, buf: &mut BytesMut, bytes: &[u8]) -> Vec<String> {
        buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Ok(Some(l)) = codec.decode(buf) {
            out.push(l);
        }
        out
    }

    #[test]
    fn splits_lines_and_drops_carriage_returns() {
        let mut c = LineCodec::default();
        let mut buf = BytesMut::new();
        let lines = feed(
            &mut c,
            &mut buf,
            b"PASSWORD OK\nUSERS a, b\r\nUSERSTATUS ON",
        );
        assert_eq!(lines, vec!["PASSWORD OK", "USERS a, b"]);
        let lines = feed(&mut c, &mut buf, b"LINE\n");
        assert_eq!(lines, vec!["USERSTATUS ONLINE"]);
        assert!(buf.is_empty());
    }

    #[test]
    fn a_line_in_many_pieces() {
        let mut c = LineCodec::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in b"CHATMESSAGE 1 BODY hello\n" {
            got.extend(feed(&mut c, &mut buf, &[*b]));
        }
        assert_eq!(got, vec!["CHATMESSAGE 1 BODY hello"]);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let mut c = LineCodec::default();
        let mut buf = BytesMut::new();
        let lines = feed(&mut c, &mut buf, b"BODY caf\xe9\n");
        assert_eq!(lines, vec!["BODY caf\u{fffd}"]);
    }

    #[test]
    fn long_lines_up_to_the_limit() {
        let mut c = LineCodec::new(100);
        let mut buf = BytesMut::new();
        let line = "x".repeat(100);
        let lines = feed(&mut c, &mut buf, format!("{line}\r\n").as_bytes());
        assert_eq!(lines, vec![line]);
    }

    #[test]
    fn refuses_absurd_lines_without_buffering_them() {
        let mut c = LineCodec::new(100);
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&[b'y'; 60]);
        assert!(matches!(c.decode(&mut buf), Ok(None)));
        buf.extend_from_slice(&[b'y'; 60]);
        assert!(matches!(
            c.decode(&mut buf),
            Err(LineError::TooLong { max: 100 })
        ));
        let mut buf = BytesMut::from(&[b'z'; 150][..]);
        buf.extend_from_slice(b"\n");
        let mut c = LineCodec::new(100);
        assert!(matches!(c.decode(&mut buf), Err(LineError::TooLong { .. })));
    }

    #[test]
    fn last_line_without_newline_at_eof() {
        let mut c = LineCodec::default();
        let mut buf = BytesMut::from("PING");
        assert_eq!(
            c.decode_eof(&mut buf).ok().flatten().as_deref(),
            Some("PING")
        );
        assert!(matches!(c.decode_eof(&mut buf), Ok(None)));
    }

    #[test]
    fn last_line_at_eof_is_held_to_the_limit() {
        // One byte over the limit, not yet refused while it waited for a newline.
        let mut c = LineCodec::new(10);
        let mut buf = BytesMut::from(&[b'x'; 11][..]);
        assert!(matches!(c.decode(&mut buf), Ok(None)));
        assert!(matches!(
            c.decode_eof(&mut buf),
            Err(LineError::TooLong { max: 10 })
        ));
        // Five invalid bytes become fifteen bytes of U+FFFD, as with a newline.
        let mut c = LineCodec::new(10);
        let mut buf = BytesMut::from(&[0xff; 5][..]);
        assert!(matches!(
            c.decode_eof(&mut buf),
            Err(LineError::TooLong { max: 10 })
        ));
        let mut buf = BytesMut::from(&[0xff; 5][..]);
        buf.extend_from_slice(b"\n");
        assert!(matches!(c.decode(&mut buf), Err(LineError::TooLong { .. })));
        // Up to the limit, the last line comes through.
        let mut c = LineCodec::new(10);
        let mut buf = BytesMut::from(&b"0123456789\r"[..]);
        assert_eq!(
            c.decode_eof(&mut buf).ok().flatten().as_deref(),
            Some("0123456789")
        );
    }

    #[test]
    fn encodes_with_a_newline() {
        let mut c = LineCodec::default();
        let mut out = BytesMut::new();
        assert!(c.encode("PONG", &mut out).is_ok());
        assert_eq!(&out[..], b"PONG\n");
    }
}
