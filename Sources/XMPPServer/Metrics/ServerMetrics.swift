import Atomics
import Foundation
import Metrics
import NIOCore
import Prometheus
import XMPPCore
import XMPPServerKernel

/// What an operator scrapes at `/metrics` (Prometheus text format): swift-metrics instruments made by a
/// swift-prometheus factory on a registry of this server's own (no process-wide bootstrap, so servers in one process
/// never mix their figures). Counting is an atomic add; the figures that are cheap to read when scraped (sessions,
/// memory, uptime) are read then.
final class ServerMetrics: Sendable {
    /// The listeners connections are counted by.
    enum Listener: String, Sendable, CaseIterable {
        case startTLS = "c2s_starttls"
        case directTLS = "c2s_direct_tls"
        case webSocket = "websocket"
        case bosh = "bosh"
    }

    private let registry = PrometheusCollectorRegistry()
    private let connections: [Listener: Metrics.Meter]
    private let loginsSucceeded: Metrics.Counter
    private let loginsFailed: Metrics.Counter
    /// Message, presence and IQ counters, in that order (an array indexed by a switch: no hashing per stanza).
    private let stanzasIn: [Metrics.Counter]
    private let stanzasOut: [Metrics.Counter]
    private let bytesIn: Metrics.Counter
    private let routing: Metrics.Timer
    private let sessions: Metrics.Meter
    private let residentBytes: Metrics.Meter
    private let startTime: Metrics.Meter
    /// Remote domains with a ready server-to-server stream, incoming and outgoing.
    private let remoteDomains: (incoming: Metrics.Meter, outgoing: Metrics.Meter)
    /// The modules' figures (`xmppctl stats`: archive write queue, rooms, occupants), by name, made on first scrape.
    private let moduleFigures = Locked<[String: Metrics.Meter]>([:])
    private let factory: PrometheusMetricsFactory
    /// The kernels of the server's domains (virtual hosts): their figures are added up.
    private let attachedKernels = Locked<[ServerKernel]>([])
    private var kernels: [ServerKernel] { attachedKernels.withLock { $0 } }
    private let bytesOut: Metrics.Counter
    /// How long storage statements take (SQLite), in seconds.
    private let storage: Metrics.Timer
    /// Messages received from clients and open client connections, readable (the console's dashboard and chart).
    private let messageCount = ManagedAtomic<Int>(0)
    private let connectionCount = ManagedAtomic<Int>(0)

    /// Creates the instruments; ``attach(kernels:)`` names the domains whose figures it reports.
    init(kernels: [ServerKernel] = []) {
        attachedKernels.withLock { $0 = kernels }
        var factory = PrometheusMetricsFactory(registry: registry)
        // SQLite statements take microseconds (cached reads) to tens of milliseconds (commits under load).
        factory.durationHistogramBuckets["xmpp_storage_statement_seconds"] = [
            .microseconds(10), .microseconds(50), .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5),
            .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1),
        ]
        // Routing takes microseconds to milliseconds (storage included): buckets from 10 µs to 1 s.
        factory.durationHistogramBuckets["xmpp_routing_seconds"] = [
            .microseconds(10), .microseconds(50), .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5),
            .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1),
        ]
        connections = Dictionary(uniqueKeysWithValues: Listener.allCases.map {
            ($0, Metrics.Meter(label: "xmpp_connections", dimensions: [("listener", $0.rawValue)], factory: factory))
        })
        loginsSucceeded = Metrics.Counter(label: "xmpp_logins_total", dimensions: [("result", "success")], factory: factory)
        loginsFailed = Metrics.Counter(label: "xmpp_logins_total", dimensions: [("result", "failure")], factory: factory)
        let kinds = ["message", "presence", "iq"]
        stanzasIn = kinds.map { Metrics.Counter(label: "xmpp_stanzas_total", dimensions: [("direction", "in"), ("kind", $0)], factory: factory) }
        stanzasOut = kinds.map { Metrics.Counter(label: "xmpp_stanzas_total", dimensions: [("direction", "out"), ("kind", $0)], factory: factory) }
        bytesIn = Metrics.Counter(label: "xmpp_received_bytes_total", factory: factory)
        bytesOut = Metrics.Counter(label: "xmpp_sent_bytes_total", factory: factory)
        storage = Metrics.Timer(label: "xmpp_storage_statement_seconds", factory: factory)
        routing = Metrics.Timer(label: "xmpp_routing_seconds", factory: factory)
        sessions = Metrics.Meter(label: "xmpp_sessions", factory: factory)
        residentBytes = Metrics.Meter(label: "process_resident_memory_bytes", factory: factory)
        startTime = Metrics.Meter(label: "process_start_time_seconds", factory: factory)
        startTime.set(Date().timeIntervalSince1970)
        remoteDomains = (Metrics.Meter(label: "xmpp_s2s_domains", dimensions: [("direction", "in")], factory: factory),
                         Metrics.Meter(label: "xmpp_s2s_domains", dimensions: [("direction", "out")], factory: factory))
        self.factory = factory
    }

    func connectionOpened(_ listener: Listener) {
        connections[listener]?.increment()
        connectionCount.wrappingIncrement(ordering: .relaxed)
    }

    func connectionClosed(_ listener: Listener) {
        connections[listener]?.decrement()
        connectionCount.wrappingDecrement(ordering: .relaxed)
    }

    /// Messages received from clients since the server started.
    var messagesReceived: Int { messageCount.load(ordering: .relaxed) }
    /// Client connections open now (c2s and WebSocket).
    var openConnections: Int { connectionCount.load(ordering: .relaxed) }

    func login(succeeded: Bool) { (succeeded ? loginsSucceeded : loginsFailed).increment() }
    func stanzaReceived(_ element: Element) {
        guard let index = Self.kindIndex(element.name) else { return }
        stanzasIn[index].increment()
        if index == 0 { messageCount.wrappingIncrement(ordering: .relaxed) }
    }

    func stanzaSent(_ element: Element) {
        if let index = Self.kindIndex(element.name) { stanzasOut[index].increment() }
    }

    private static func kindIndex(_ name: String) -> Int? {
        switch name {
        case "message": 0
        case "presence": 1
        case "iq": 2
        default: nil
        }
    }

    /// Routing times are recorded for one stanza in this many per connection: the histogram takes a lock per record,
    /// which every event loop would contend for on every stanza.
    static let routingSampleInterval = 16
    func received(bytes: Int) { bytesIn.increment(by: bytes) }
    func sent(bytes: Int) { bytesOut.increment(by: bytes) }

    /// The domains whose sessions and module figures are reported.
    func attach(kernels: [ServerKernel]) { attachedKernels.withLock { $0 = kernels } }

    /// Records one storage statement's duration.
    func storageStatement(seconds: Double) { storage.recordNanoseconds(Int64(seconds * 1_000_000_000)) }

    /// Records how long the kernel took with one (sampled) inbound stanza, from `start`.
    func routed(since start: NIODeadline) {
        routing.recordNanoseconds((NIODeadline.now() - start).nanoseconds)
    }

    /// The text a scrape gets, with the read-when-scraped figures brought up to date first.
    func exposition() -> ByteBuffer {
        sessions.set(kernels.reduce(0) { $0 + $1.registry.count })
        if let rss = Self.residentMemoryBytes() { residentBytes.set(rss) }
        let domains = CombinedFigures.remoteDomains(of: kernels)
        remoteDomains.incoming.set(domains.count(where: \.incoming))
        remoteDomains.outgoing.set(domains.count(where: \.outgoing))
        for (name, value) in CombinedFigures.statistics(of: kernels) {
            moduleFigures.withLock { meters in
                if meters[name] == nil {
                    meters[name] = Metrics.Meter(label: "xmpp_module_figure", dimensions: [("name", name)], factory: factory)
                }
                return meters[name]!
            }.set(value)
        }
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return ByteBuffer(bytes: bytes)
    }

    /// The process's resident memory, from /proc (Linux); nil elsewhere.
    static func residentMemoryBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
