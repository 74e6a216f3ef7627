//! IP addresses and CIDR blocks, read the way event-ruler reads them.
//!
//! An address is four dot-separated decimal numbers (leading zeros allowed, each at most 255)
//! or an IPv6 address made only of hex digits and colons (no zone, no embedded dotted IPv4).
//! An IPv4-mapped IPv6 address (`::ffff:a00:1`) is the IPv4 address it maps, as Java's
//! `InetAddress` has it. A block is parsed once into an integer range.

use std::net::Ipv6Addr;

/// An IPv4 or IPv6 address as an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IpAddress {
    V4(u32),
    V6(u128),
}

/// Reads `text` as an IP address, or `None` if it is not one.
pub(crate) fn parse_ip(text: &str) -> Option<IpAddress> {
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return parse_ipv4(text).map(IpAddress::V4);
    }
    if text.contains(':') && text.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
        let address: Ipv6Addr = text.parse().ok()?;
        return Some(match address.to_ipv4_mapped() {
            Some(v4) => IpAddress::V4(u32::from(v4)),
            None => IpAddress::V6(u128::from(address)),
        });
    }
    None
}

fn parse_ipv4(text: &str) -> Option<u32> {
    let mut address = 0u32;
    let mut octets = 0;
    for part in text.split('.') {
        if part.is_empty() {
            return None;
        }
        let mut octet = 0u32;
        for digit in part.bytes() {
            octet = octet * 10 + u32::from(digit - b'0');
            if octet > 255 {
                return None;
            }
        }
        address = (address << 8) | octet;
        octets += 1;
    }
    (octets == 4).then_some(address)
}

/// The addresses of a CIDR block, as an inclusive integer range of one address family.
#[derive(Debug)]
pub(crate) struct CidrBlock {
    v6: bool,
    first: u128,
    last: u128,
}

impl CidrBlock {
    /// Parses `10.0.0.0/24` or `2001:db8::/32`. Host bits below the mask are ignored.
    /// As in EventBridge, the mask must be below the address width: `/0..=/31` for IPv4 and
    /// `/0..=/127` for IPv6 (a single address is matched with a plain value instead).
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let Some((address, mask)) = text.split_once('/') else {
            return Err(format!("malformed CIDR {text:?}: one '/' is required"));
        };
        if mask.contains('/') {
            return Err(format!("malformed CIDR {text:?}: one '/' is required"));
        }
        let bits =
            parse_mask(mask).map_err(|problem| format!("malformed CIDR {text:?}: {problem}"))?;
        let (v6, base, width) = match parse_ip(address) {
            Some(IpAddress::V4(v4)) => (false, u128::from(v4), 32),
            Some(IpAddress::V6(v6)) => (true, v6, 128),
            None => return Err(format!("malformed CIDR {text:?}: invalid IP address {address:?}")),
        };
        if bits >= width {
            let family = if v6 { "IPv6" } else { "IPv4" };
            return Err(format!("malformed CIDR {text:?}: {family} mask bits must be < {width}"));
        }
        let host_bits = width - bits;
        let host_mask = if host_bits == 128 { u128::MAX } else { (1u128 << host_bits) - 1 };
        let first = base & !host_mask;
        Ok(Self { v6, first, last: first | host_mask })
    }

    pub(crate) fn contains(&self, address: IpAddress) -> bool {
        let (v6, value) = match address {
            IpAddress::V4(v4) => (false, u128::from(v4)),
            IpAddress::V6(v6) => (true, v6),
        };
        v6 == self.v6 && (self.first..=self.last).contains(&value)
    }
}

/// Mask bits as Java's `Integer.parseInt` reads them: an optional sign and decimal digits.
fn parse_mask(mask: &str) -> Result<u32, &'static str> {
    let (negative, digits) = match mask.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, mask.strip_prefix('+').unwrap_or(mask)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("mask bits must be an integer");
    }
    let significant = digits.trim_start_matches('0');
    // More than three digits is far beyond 128 whatever they are.
    let bits = match significant.len() {
        0 => 0,
        1..=3 => significant.parse().map_err(|_| "mask bits must be an integer")?,
        _ => u32::MAX,
    };
    if negative && bits != 0 {
        return Err("mask bits must not be negative");
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_like_event_ruler() {
        assert_eq!(parse_ip("10.0.0.1"), Some(IpAddress::V4(0x0a00_0001)));
        assert_eq!(parse_ip("010.000.0.001"), Some(IpAddress::V4(0x0a00_0001)));
        assert_eq!(parse_ip("::ffff:a00:1"), Some(IpAddress::V4(0x0a00_0001)));
        assert_eq!(parse_ip("::1"), Some(IpAddress::V6(1)));
        for bad in [
            "10.0.0",
            "10.0.0.256",
            "1.2.3.4.5",
            "10..0.1",
            "",
            "fe80::1%eth0",
            "::ffff:1.2.3.4",
            "host",
        ] {
            assert_eq!(parse_ip(bad), None, "{bad}");
        }
    }

    #[test]
    fn blocks_are_integer_ranges() {
        let block = CidrBlock::parse("10.0.0.77/24").expect("valid");
        assert!(block.contains(IpAddress::V4(0x0a00_0000)));
        assert!(block.contains(IpAddress::V4(0x0a00_00ff)));
        assert!(!block.contains(IpAddress::V4(0x0a00_0100)));
        assert!(CidrBlock::parse("0.0.0.0/0").expect("valid").contains(IpAddress::V4(u32::MAX)));
        assert!(CidrBlock::parse("::/0").expect("valid").contains(IpAddress::V6(u128::MAX)));
        for bad in
            ["10.0.0.0/32", "10.0.0.0", "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/-1", "::/128", "a/8"]
        {
            assert!(CidrBlock::parse(bad).is_err(), "{bad}");
        }
        assert!(CidrBlock::parse("10.0.0.0/+08").is_ok());
    }
}
