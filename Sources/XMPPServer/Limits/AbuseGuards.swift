import Foundation
import Synchronization

/// Counts open connections per IP address.
final class ConnectionCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])

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

/// Remembers recent authentication failures per IP address and per account, so that password guessing is
/// slowed to a crawl without affecting anyone else.
final class AuthenticationThrottle: Sendable {
    private let failures = Mutex<[String: [Date]]>([:])
    let window: TimeInterval
    let perAddress: Int
    let perAccount: Int

    init(window: TimeInterval, perAddress: Int, perAccount: Int) {
        self.window = window
        self.perAddress = perAddress
        self.perAccount = perAccount
    }

    /// Whether an attempt from `address` for `username` must be refused for now.
    func isBlocked(address: String, username: String) -> Bool {
        let now = Date()
        return failures.withLock { failures in
            recent("ip:" + address, now, &failures) >= perAddress || recent("user:" + username, now, &failures) >= perAccount
        }
    }

    /// Records a failed attempt.
    func recordFailure(address: String, username: String?) {
        let now = Date()
        failures.withLock { failures in
            failures["ip:" + address, default: []].append(now)
            if let username { failures["user:" + username, default: []].append(now) }
            if failures.count > 100_000 { failures = failures.filter { $0.value.contains { now.timeIntervalSince($0) < window } } }
        }
    }

    /// Forgets an account's failures after it logged in.
    func recordSuccess(username: String) {
        _ = failures.withLock { $0.removeValue(forKey: "user:" + username) }
    }

    private func recent(_ key: String, _ now: Date, _ failures: inout [String: [Date]]) -> Int {
        guard let list = failures[key] else { return 0 }
        let kept = list.filter { now.timeIntervalSince($0) < window }
        failures[key] = kept.isEmpty ? nil : kept
        return kept.count
    }
}
