import Foundation
import NIOCore
import XMPPCore

/// The SOCKS5 connections waiting at the proxy (XEP-0065), by destination address (the SHA-1 of the stream id and
/// both JIDs), and how many transfers run. The target connects first, the initiator second; the initiator's
/// `activate` then joins the two.
final class ProxyPairing: Sendable {
    private struct State {
        var waiting: [String: [any Channel]] = [:]
        var active = 0
    }

    private let state = Locked(State())
    /// `proxy_max_transfers`: transfers (pairs and connections waiting) at once.
    let maxTransfers: Int

    init(maxTransfers: Int) {
        self.maxTransfers = maxTransfers
    }

    /// Records `channel` as having asked for `address`; false when two already wait for it or the proxy is full.
    func arrive(_ channel: any Channel, address: String) -> Bool {
        state.withLock { state in
            let waiting = state.waiting[address, default: []]
            guard waiting.count < 2, state.active + state.waiting.count < maxTransfers * 2 else { return false }
            state.waiting[address] = waiting + [channel]
            return true
        }
    }

    /// Forgets `channel` (it closed before activation).
    func leave(_ channel: any Channel, address: String) {
        state.withLock { state in
            state.waiting[address]?.removeAll { $0 === channel }
            if state.waiting[address]?.isEmpty == true { state.waiting[address] = nil }
        }
    }

    /// The target's and the initiator's connections for `address`, taken out of waiting, when both are there.
    func activate(address: String) -> (target: any Channel, initiator: any Channel)? {
        state.withLock { state in
            guard let pair = state.waiting[address], pair.count == 2 else { return nil }
            state.waiting[address] = nil
            state.active += 1
            return (pair[0], pair[1])
        }
    }

    /// A relayed transfer ended.
    func transferEnded() {
        state.withLock { $0.active = max(0, $0.active - 1) }
    }

    /// The destination address of a stream: hex SHA-1 of the stream id, the initiator's and the target's full JIDs.
    static func address(sid: String, initiator: JID, target: JID) -> String {
        SCRAMHash.sha1.hash(Array("\(sid)\(initiator)\(target)".utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
