//! The floor for `ecs-replay run`: read a JSON Lines file and parse every line with serde_json
//! into a `Value`, nothing else. Prints the number of lines parsed.

use std::io::BufRead;

// The same allocator as ecs-replay, so the two are compared on equal terms.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::io::Result<()> {
    let path =
        std::env::args().nth(1).ok_or_else(|| std::io::Error::other("usage: parse_floor FILE"))?;
    let reader = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut parsed = 0_u64;
    for line in reader.split(b'\n') {
        let line = line?;
        if serde_json::from_slice::<serde_json::Value>(&line).is_ok() {
            parsed += 1;
        }
    }
    println!("{{\"parsed\":{parsed}}}");
    Ok(())
}
