import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import XMPPBench
import XMPPCore

/// `xmpp-bench`: a load generator that speaks real XMPP to any server, and prints its figures as JSON.
@main
struct XMPPBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xmpp-bench",
        abstract: "Load an XMPP server over loopback and report what it costs (JSON).",
        discussion: "Accounts bench1..benchN with passwords secret1..secretN must exist. See docs/BENCHMARKS.md.",
        subcommands: [Connect.self, Login.self, Throughput.self, Rate.self, Churn.self, MUC.self, Soak.self, Archive.self])
}

/// Options every scenario shares: where the server is, how to log in, where to write the report.
struct TargetOptions: ParsableArguments {
    @Option(help: "The server, HOST:PORT.")
    var server = "127.0.0.1:5222"
    @Option(help: "The XMPP domain of the accounts.")
    var domain = "localhost"
    @Option(help: "starttls, direct or websocket (plain ws:// at --websocket-path; --server is then the HTTP port).")
    var tls: BenchTarget.Security = .starttls
    @Option(help: "SASL mechanism: SCRAM-SHA-1, SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN.")
    var mechanism = "SCRAM-SHA-1"
    @Option(help: "How many accounts exist.")
    var users = 20_000
    @Option(help: "Account localparts; {i} is the 1-based index.")
    var userFormat = "bench{i}"
    @Option(help: "Account passwords; {i} is the 1-based index.")
    var passwordFormat = "secret{i}"
    @Option(help: "Spread connections over source addresses 127.0.0.1 ... 127.0.0.N (0: the kernel chooses).")
    var sourceAddresses = 0
    @Option(help: "Process id of the server, to sample its memory and CPU (process and children) from /proc.")
    var pid: Int32?
    @Option(help: "Event-loop threads of the load generator (default: one per core).")
    var threads = System.coreCount
    @Option(help: "Also write the JSON report to this file.")
    var output: String?
    @Option(help: "The WebSocket endpoint's path, with --tls websocket.")
    var websocketPath = "/xmpp-websocket"
    @Flag(help: "Behave like mobile clients: enable carbons (XEP-0280) and stream management (XEP-0198), acknowledging the server's stanzas.")
    var mobile = false
    @Option(help: "throughput and rate: the receivers log in to this second server, HOST:PORT (federation: messages cross a server-to-server stream).")
    var receiversServer: String?
    @Option(help: "The XMPP domain of the second server's accounts (same account names and passwords).")
    var receiversDomain: String?
    @Option(help: "Process id of the second server: its CPU and memory are added to the first's.")
    var receiversPid: Int32?

    func context() throws -> (BenchContext, MultiThreadedEventLoopGroup) {
        let parts = server.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw ValidationError("--server must be HOST:PORT") }
        guard let sasl = SASLMechanism(rawValue: mechanism), !sasl.usesChannelBinding else {
            throw ValidationError("unsupported mechanism \(mechanism)")
        }
        var target = BenchTarget(host: String(parts[0]), port: port, domain: domain, security: tls, mechanism: sasl,
                                 userFormat: userFormat, passwordFormat: passwordFormat, accountCount: users,
                                 sourceAddressCount: sourceAddresses)
        target.mobile = mobile
        target.webSocketPath = websocketPath
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        var receivers: BenchConnector?
        if let receiversServer {
            let parts = receiversServer.split(separator: ":")
            guard parts.count == 2, let port = Int(parts[1]), let receiversDomain else {
                throw ValidationError("--receivers-server must be HOST:PORT, with --receivers-domain")
            }
            var second = target
            second.host = String(parts[0])
            second.port = port
            second.domain = receiversDomain
            receivers = try BenchConnector(target: second, group: group)
        }
        return (BenchContext(connector: try BenchConnector(target: target, group: group), serverPID: pid,
                             receiverConnector: receivers, receiverServerPID: receiversPid), group)
    }

    func emit(_ report: BenchReport) throws {
        let json = report.json()
        print(json)
        if let output { try (json + "\n").write(toFile: output, atomically: true, encoding: .utf8) }
    }
}

extension BenchTarget.Security: ExpressibleByArgument {}

/// Runs one scenario with the shared options, then shuts the event loops down.
func runScenario(_ options: TargetOptions, _ body: (BenchContext) async -> BenchReport) async throws {
    let (context, group) = try options.context()
    let report = await body(context)
    try options.emit(report)
    try await group.shutdownGracefully()
    let failures = ["failures", "lost", "before_lost", "after_lost"].compactMap { report.figures[$0] }.reduce(0, +)
    if failures > 0 { throw ExitCode(2) }
}

struct Connect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Open C idle authenticated connections, hold them, measure server memory.")
    @OptionGroup var target: TargetOptions
    @Option(help: "Connections to hold (one account each).") var connections = 1_000
    @Option(help: "Logins in flight at once.") var concurrency = 100
    @Option(help: "Seconds to hold them.") var hold = 5.0

    func run() async throws {
        try await runScenario(target) { await ConnectScenario(connections: connections, concurrency: concurrency, holdSeconds: hold).run($0) }
    }
}

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A login storm: full logins, each closed at once.")
    @OptionGroup var target: TargetOptions
    @Option(help: "Logins.") var logins = 2_000
    @Option(help: "Logins in flight at once.") var concurrency = 100
    @Option(help: "Accounts to cycle through (1...N); each is logged in once before the storm.") var accounts = 200

    func run() async throws {
        try await runScenario(target) {
            await LoginScenario(logins: logins, concurrency: concurrency, accounts: 1...max(1, min(accounts, target.users))).run($0)
        }
    }
}

/// Options of the message scenarios.
struct MessageOptions: ParsableArguments {
    @Option(help: "Sender/receiver pairs (accounts 1...2P).") var pairs = 100
    @Option(help: "Seconds before measuring.") var warmup = 2.0
    @Option(help: "Seconds measured.") var seconds = 10.0
}

struct Archive: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mam",
        abstract: "Page backwards through account 1's message archive, one query at a time; fill it first with xmppctl addarchive.")
    @OptionGroup var target: TargetOptions
    @Option(help: "How many queries.") var queries = 2000
    @Option(help: "Messages per page.") var pageSize = 50
    @Option(help: "Only the conversation with this account (localpart).") var with: String?

    func run() async throws {
        try await runScenario(target) { await ArchiveQueryScenario(queries: queries, pageSize: pageSize, with: with).run($0) }
    }
}

struct Throughput: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Saturate the server: P pairs, a window of messages in flight per pair.")
    @OptionGroup var target: TargetOptions
    @OptionGroup var messages: MessageOptions
    @Option(help: "Messages in flight per pair.") var window = 20

    func run() async throws {
        try await runScenario(target) {
            await ThroughputScenario(pairs: messages.pairs, load: .window(window), warmupSeconds: messages.warmup, seconds: messages.seconds).run($0)
        }
    }
}

struct Rate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Latency at a fixed offered rate, spread over P pairs.")
    @OptionGroup var target: TargetOptions
    @OptionGroup var messages: MessageOptions
    @Option(help: "Messages per second offered in total.") var rate = 2_000.0

    func run() async throws {
        try await runScenario(target) {
            await ThroughputScenario(pairs: messages.pairs, load: .rate(rate), warmupSeconds: messages.warmup, seconds: messages.seconds).run($0)
        }
    }
}

struct Churn: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Throughput, then open and close many connections, then throughput again.")
    @OptionGroup var target: TargetOptions
    @OptionGroup var messages: MessageOptions
    @Option(help: "Messages in flight per pair.") var window = 20
    @Option(help: "Connections to open and close between the measurements.") var churn = 19_000
    @Option(help: "Logins in flight at once during the churn.") var concurrency = 100

    func run() async throws {
        let throughput = ThroughputScenario(pairs: messages.pairs, load: .window(window), warmupSeconds: messages.warmup, seconds: messages.seconds)
        try await runScenario(target) { await ChurnScenario(throughput: throughput, churnConnections: churn, concurrency: concurrency).run($0) }
    }
}

struct MUC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "muc", abstract: "Group-chat fan-out: K occupants in one room, S of them sending, every message to all K.")
    @OptionGroup var target: TargetOptions
    @Option(help: "Occupants (accounts 1...K).") var occupants = 50
    @Option(help: "How many of them send.") var senders = 5
    @Option(help: "Messages in flight per sender.") var window = 10
    @Option(help: "Seconds before measuring.") var warmup = 2.0
    @Option(help: "Seconds measured.") var seconds = 10.0

    func run() async throws {
        let scenario = MUCScenario(occupants: occupants, senders: senders, window: window, warmupSeconds: warmup, seconds: seconds)
        try await runScenario(target) { await scenario.run($0) }
    }
}

struct Soak: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Everything at a steady rate for a long time (chat, a room, logins and drops, slow readers); server memory every 10 s.")
    @OptionGroup var target: TargetOptions
    @Option(help: "Chat pairs.") var pairs = 50
    @Option(help: "Chat messages per second in total.") var chatRate = 500.0
    @Option(help: "Room occupants (the accounts after the pairs).") var occupants = 30
    @Option(help: "Room senders, one message per second each.") var roomSenders = 3
    @Option(help: "Logins per second, each closed at once (every other one abruptly).") var loginsPerSecond = 5
    @Option(help: "Seconds between slow readers.") var slowReaderInterval = 30.0
    @Option(help: "Minutes of load.") var minutes = 30.0
    @Option(help: "Minutes before memory counts.") var warmupMinutes = 5.0

    func run() async throws {
        let scenario = SoakScenario(pairs: pairs, chatRate: chatRate, occupants: occupants, roomSenders: roomSenders,
                                    loginsPerSecond: loginsPerSecond, slowReaderInterval: slowReaderInterval,
                                    minutes: minutes, warmupMinutes: warmupMinutes)
        try await runScenario(target) { await scenario.run($0) }
    }
}
