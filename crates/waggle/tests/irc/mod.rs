//! A blocking IRC client for the tests of the real binary: connect (waiting
//! for the daemon to listen), send a line, wait for a line containing a text.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One IRC connection to the daemon.
pub struct Irc {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Irc {
    /// Connect to 127.0.0.1:`port`, retrying for up to 20 s while the daemon starts.
    pub fn connect(port: u16) -> Irc {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => {
                    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    return Irc {
                        reader: BufReader::new(s.try_clone().unwrap()),
                        writer: s,
                    };
                }
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("gateway never listened: {e}"),
            }
        }
    }

    /// Send one line.
    pub fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
    }

    /// The first line containing `needle` (within 500 lines); panics otherwise.
    pub fn expect(&mut self, needle: &str) -> String {
        let mut seen = Vec::new();
        for _ in 0..500 {
            let mut line = String::new();
            if self.reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            if line.contains(needle) {
                return line;
            }
            seen.push(line);
        }
        panic!("never saw {needle:?}; saw {seen:#?}");
    }
}
