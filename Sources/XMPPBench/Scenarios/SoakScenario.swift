import NIOCore
import XMPPTransport

/// `soak`: everything at once, at a steady rate, for a long time, sampling the server's memory: chat pairs at a
/// fixed rate, a room with paced senders, logins and logouts (half of them abrupt disconnects), and now and then a
/// slow reader that asks for large vCards and never reads (the server must cut it off). Memory must stay flat after
/// the warm-up, and nothing may be lost.
public struct SoakScenario: Sendable {
    /// Chat pairs (accounts 1...2P) and their total rate, messages per second.
    public var pairs: Int
    public var chatRate: Double
    /// Room occupants (the accounts after the pairs) and paced senders among them, one message per second each.
    public var occupants: Int
    public var roomSenders: Int
    /// Logins per second (each closed at once, every other one abruptly).
    public var loginsPerSecond: Int
    /// A slow reader every this many seconds.
    public var slowReaderInterval: Double
    /// Minutes of load, and of warm-up before memory counts.
    public var minutes: Double
    public var warmupMinutes: Double
    /// Seconds a slow reader waits to be cut off before giving up (the server's write-stall timeout and some).
    public var slowReaderPatience: Double = 75
    /// Seconds between whitespace keepalives on the long-lived connections (well under the server's idle timeout).
    public var keepaliveInterval: Double = 60

    /// Creates the scenario.
    public init(pairs: Int = 50, chatRate: Double = 500, occupants: Int = 30, roomSenders: Int = 3, loginsPerSecond: Int = 5,
                slowReaderInterval: Double = 30, minutes: Double = 30, warmupMinutes: Double = 5) {
        self.pairs = pairs
        self.chatRate = chatRate
        self.occupants = occupants
        self.roomSenders = roomSenders
        self.loginsPerSecond = loginsPerSecond
        self.slowReaderInterval = slowReaderInterval
        self.minutes = minutes
        self.warmupMinutes = warmupMinutes
    }

    /// Runs the load and reports memory over time and what was lost.
    public func run(_ context: BenchContext) async -> BenchReport {
        var report = BenchReport(scenario: "soak", target: context.connector.target, parameters: [
            "pairs": Double(pairs), "chat_rate": chatRate, "occupants": Double(occupants), "room_senders": Double(roomSenders),
            "logins_per_second": Double(loginsPerSecond), "minutes": minutes, "warmup_minutes": warmupMinutes,
        ])
        do {
            let pairs = try await ThroughputScenario.openPairs(context, count: self.pairs)
            let members = try await MUCScenario(occupants: occupants, senders: roomSenders, window: 1)
                .enter(context, firstAccount: 2 * self.pairs + 1)
            let interval = Int64(1e9 * Double(pairs.count) / max(chatRate, 1))
            for (index, pair) in pairs.enumerated() {
                try await pair.eventLoop.submit {
                    pair.startOpenLoop(intervalNanoseconds: interval, phase: interval * Int64(index) / Int64(pairs.count), cap: 10_000)
                }.get()
            }
            for member in members.prefix(roomSenders) {
                try await member.eventLoop.submit { member.startPacing(every: .seconds(1)) }.get()
            }
            let churnAccounts = (2 * self.pairs + occupants + 1)...max(2 * self.pairs + occupants + 1, context.connector.target.accountCount)
            var samples: [Double] = []
            var logins = 0, loginFailures = 0, slowReaders = 0
            var slowReaderOutcomes: [Task<Bool, Never>] = []
            let start = BenchContext.now()
            var nextSample = start, nextSlowReader = start + slowReaderInterval, nextKeepalive = start
            while BenchContext.now() - start < minutes * 60 {
                // Logins and logouts, every other one dropped without a closing tag.
                for _ in 0..<loginsPerSecond {
                    let account = Int.random(in: churnAccounts)
                    do {
                        let connection = try await context.connector.login(account: account, connection: account).get()
                        logins += 1
                        if logins.isMultiple(of: 2) { try? await connection.channel.close().get() } else { try? await connection.close().get() }
                    } catch {
                        loginFailures += 1
                    }
                }
                if BenchContext.now() >= nextSlowReader {
                    nextSlowReader += slowReaderInterval
                    slowReaders += 1
                    let account = Int.random(in: churnAccounts)
                    slowReaderOutcomes.append(Task { await slowReader(context, account: account) })
                }
                if BenchContext.now() >= nextKeepalive {
                    // Receivers and listening occupants send nothing of their own; like any client, they keep their
                    // streams alive, or the server's idle timeout (15 minutes by default) closes them.
                    nextKeepalive += keepaliveInterval
                    let connections = pairs.flatMap { [$0.sender, $0.receiver] } + members.map(\.connection)
                    for connection in connections { connection.channel.writeAndFlush(XMPPOutbound.keepalive, promise: nil) }
                }
                if BenchContext.now() >= nextSample {
                    nextSample += 10
                    if let sample = context.serverSample() { samples.append(Double(sample.rssKiB)) }
                }
                try await Task.sleep(for: .seconds(1))
            }
            for pair in pairs { try? await pair.eventLoop.submit { pair.stop() }.get() }
            for member in members { try? await member.eventLoop.submit { member.stop() }.get() }
            try await Task.sleep(for: .seconds(5))
            var slowReadersCut = 0
            for outcome in slowReaderOutcomes where await outcome.value { slowReadersCut += 1 }
            var chatSent: UInt64 = 0, chatReceived: UInt64 = 0, bounced: UInt64 = 0
            for pair in pairs {
                let counts = try await pair.eventLoop.submit { pair.counts }.get()
                chatSent += counts.sent
                chatReceived += counts.received
                bounced += counts.bounced
            }
            var roomSent: UInt64 = 0, roomReceived: UInt64 = 0
            for member in members {
                let (sent, received) = try await member.eventLoop.submit { (member.sent, member.received) }.get()
                roomSent += sent
                roomReceived += received
            }
            let warm = samples.dropFirst(Int(warmupMinutes * 6))
            report.figures["server_rss_kib_after_warmup"] = warm.first ?? 0
            report.figures["server_rss_kib_end"] = samples.last ?? 0
            report.figures["server_rss_kib_max_after_warmup"] = warm.max() ?? 0
            report.figures["server_rss_growth_after_warmup_percent"] = (warm.first).map { first in ((samples.last ?? first) - first) / first * 100 } ?? 0
            report.figures["chat_lost"] = Double(chatSent) - Double(chatReceived + bounced)
            report.figures["room_lost"] = Double(roomSent) * Double(members.count) - Double(roomReceived)
            report.figures["chat_delivered"] = Double(chatReceived)
            report.figures["room_delivered"] = Double(roomReceived)
            report.figures["logins"] = Double(logins)
            report.figures["login_failures"] = Double(loginFailures)
            report.figures["slow_readers"] = Double(slowReaders)
            report.figures["slow_readers_cut_off"] = Double(slowReadersCut)
            report.series["server_rss_kib_every_10s"] = samples
            await ThroughputScenario.close(pairs)
            for member in members { try? await member.connection.close().get() }
        } catch {
            report.figures["failures"] = 1
            report.errors.append("\(error)")
        }
        return report
    }

    /// A client that publishes a large vCard, stops reading and asks for it again and again: `true` when the server
    /// closed the connection within `slowReaderPatience` seconds (its write-stall timeout, 60 s by default, and some).
    private func slowReader(_ context: BenchContext, account: Int) async -> Bool {
        guard let connection = try? await context.connector.login(account: account, connection: account).get() else { return false }
        let card = "<iq type='set' id='v'><vCard xmlns='vcard-temp'><DESC>\(String(repeating: "x", count: 100_000))</DESC></vCard></iq>"
        _ = try? await connection.channel.setOption(ChannelOptions.autoRead, value: false).get()
        var requests = card
        for index in 0..<200 { requests += "<iq type='get' id='g\(index)'><vCard xmlns='vcard-temp'/></iq>" }
        let buffer = connection.channel.allocator.buffer(string: requests)
        try? await connection.channel.writeAndFlush(XMPPOutbound.serialized(buffer)).get()
        for _ in 0..<Int(slowReaderPatience * 10) {
            if !connection.channel.isActive { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        try? await connection.channel.close().get()
        return false
    }
}
