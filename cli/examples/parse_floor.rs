//! The floor for `ecs-events replay`: read a JSON Lines file and parse every line into a JSON
//! document (DOM), nothing else. Prints the number of lines parsed.
//!
//!     parse_floor FILE [sonic-rs | simd-json | serde_json]   (default: sonic-rs)
//!
//! sonic-rs parses into its own `Value` (an arena-backed DOM), simd-json into its borrowed
//! `Value` (the line is copied into a mutable buffer first, as simd-json parses in place),
//! serde_json into `serde_json::Value`.

use std::io::BufRead;

// The same allocator as the replay, so they are compared on equal terms.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = || std::io::Error::other("usage: parse_floor FILE [sonic-rs|simd-json|serde_json]");
    let path = args.next().ok_or_else(usage)?;
    let parser = args.next().unwrap_or_else(|| "sonic-rs".to_owned());
    let parse: fn(&mut Vec<u8>) -> bool = match parser.as_str() {
        "sonic-rs" => |line| sonic_rs::from_slice::<sonic_rs::Value>(line).is_ok(),
        "simd-json" => |line| simd_json::to_borrowed_value(line).is_ok(),
        "serde_json" => |line| serde_json::from_slice::<serde_json::Value>(line).is_ok(),
        _ => return Err(usage()),
    };
    let reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let mut parsed = 0_u64;
    for line in reader.split(b'\n') {
        if parse(&mut line?) {
            parsed += 1;
        }
    }
    println!("{{\"parsed\":{parsed}}}");
    Ok(())
}
