import Foundation
#if canImport(Glibc)
import Glibc
#endif
import XMPPCore

/// Counts open connections per IP address.
final class ConnectionCounter: Sendable {
    private let counts = Locked<[String: Int]>([:])

    /// Records a new connection; returns `false` (and records nothing) when the address is at `limit`.
    func open(_ address: String, limit: Int) -> Bool {
        counts.withLock { counts in
            guard counts[address, default: 0] < limit else { return false }
            counts[address, default: 0] += 1
            return true
        }
    }

    /// Records that a connection counted by ``open(_:limit:)`` closed.
    func close(_ address: String) {
        counts.withLock { counts in
            let remaining = counts[address, default: 1] - 1
            counts[address] = remaining > 0 ? remaining : nil
        }
    }
}

/// Remembers recent failed logins (wrong credentials only: an abort or a refusal by the throttle itself is not a
/// guess) and decides what the next attempt gets:
/// - from an address with too many failures, or for an account with too many failures *from that address*:
///   `temporary-auth-failure`, so one guesser is stopped without touching the account's owner elsewhere;
/// - for an account with many failures from everywhere (distributed guessing): a delay before the answer that grows
///   with the failures, so guessing crawls while the rightful owner still gets in.
final class AuthenticationThrottle: Sendable {
    private let failures = Locked<[String: [Date]]>([:])
    let window: TimeInterval
    let perAddress: Int
    let perAccount: Int

    init(window: TimeInterval, perAddress: Int, perAccount: Int) {
        self.window = window
        self.perAddress = perAddress
        self.perAccount = perAccount
    }

    /// Whether an attempt from `address` (already grouped, see ``AddressGrouping``) for `username` is refused for now.
    func isBlocked(address: String, username: String) -> Bool {
        let now = Date()
        return failures.withLock { failures in
            recent("ip:" + address, now, &failures) >= perAddress
                || recent("pair:" + address + " " + username, now, &failures) >= perAccount
        }
    }

    /// How long to wait before answering an attempt for `username`: nothing until the account has `perAccount`
    /// failures in the window from anywhere, then 250 ms doubling with each further failure, at most 8 s.
    func delay(for username: String) -> Duration {
        let count = failures.withLock { recent("user:" + username, Date(), &$0) }
        guard count >= perAccount else { return .zero }
        return .milliseconds(250 << min(5, count - perAccount))
    }

    /// Records a failed attempt with wrong credentials.
    func recordFailure(address: String, username: String?) {
        let now = Date()
        failures.withLock { failures in
            failures["ip:" + address, default: []].append(now)
            if let username {
                failures["user:" + username, default: []].append(now)
                failures["pair:" + address + " " + username, default: []].append(now)
            }
            if failures.count > 100_000 { failures = failures.filter { $0.value.contains { now.timeIntervalSince($0) < window } } }
        }
    }

    /// Forgets an account's failures after it logged in.
    func recordSuccess(address: String, username: String) {
        failures.withLock { failures in
            failures["user:" + username] = nil
            failures["pair:" + address + " " + username] = nil
        }
    }

    private func recent(_ key: String, _ now: Date, _ failures: inout [String: [Date]]) -> Int {
        guard let list = failures[key] else { return 0 }
        let kept = list.filter { now.timeIntervalSince($0) < window }
        failures[key] = kept.isEmpty ? nil : kept
        return kept.count
    }
}

/// Groups client addresses for per-address limits: IPv4 addresses stand alone, IPv6 addresses count by their
/// prefix (a /64 by default), since one client can have a whole /64 to itself.
enum AddressGrouping {
    /// The key of `address` for per-address limits.
    static func key(_ address: String, ipv6PrefixLength: Int) -> String {
        guard address.contains(":") else { return address }
        // IPv4 clients of a dual-stack listener arrive as ::ffff:a.b.c.d: they are IPv4 addresses.
        if address.lowercased().hasPrefix("::ffff:"), address.contains(".") { return String(address.dropFirst(7)) }
        var bytes = in6_addr()
        guard inet_pton(AF_INET6, address, &bytes) == 1 else { return address }
        let prefix = max(0, min(128, ipv6PrefixLength))
        var octets = withUnsafeBytes(of: &bytes) { Array($0) }
        for index in 0..<16 {
            let kept = max(0, min(8, prefix - index * 8))
            octets[index] &= kept == 8 ? 0xFF : UInt8(truncatingIfNeeded: 0xFF << (8 - kept))
        }
        return octets.map { String($0, radix: 16) }.joined(separator: ":") + "/\(prefix)"
    }
}
