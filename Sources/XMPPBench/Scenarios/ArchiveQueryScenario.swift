import Foundation
import NIOCore
import XMPPCore
import XMPPTransport

/// `mam`: one account pages backwards through its message archive (XEP-0313), one query at a time, as a client
/// scrolling up a long conversation does; the time from sending each query to its `<fin/>` is recorded. Fill the
/// archive first (`xmppctl addarchive bench1 1000000`).
public struct ArchiveQueryScenario: Sendable {
    /// How many queries.
    public var queries: Int
    /// Messages per page.
    public var pageSize: Int
    /// Only the conversation with this account (its localpart), when given.
    public var with: String?

    /// Creates the scenario.
    public init(queries: Int, pageSize: Int = 50, with: String? = nil) {
        self.queries = queries
        self.pageSize = pageSize
        self.with = with
    }

    /// Runs it.
    public func run(_ context: BenchContext) async -> BenchReport {
        var report = BenchReport(scenario: "mam", target: context.connector.target,
                                 parameters: ["queries": Double(queries), "page_size": Double(pageSize)])
        let connection: BenchConnection
        do {
            connection = try await context.connector.login(account: 1, connection: 0).get()
        } catch {
            report.figures["failures"] = 1
            report.errors.append("\(error)")
            return report
        }
        let pager = ArchivePager(connection: connection)
        let withJID = with.map { "\($0)@\(context.connector.target.domain)" }
        var histogram = LatencyHistogram()
        var messages = 0
        var cursor = ""
        var failures = 0
        let window = MeasurementWindow(context)
        for _ in 0..<queries {
            let started = DispatchTime.now().uptimeNanoseconds
            guard let page = try? await pager.query(before: cursor, max: pageSize, with: withJID).get() else {
                failures += 1
                cursor = ""
                continue
            }
            histogram.record(microseconds: (DispatchTime.now().uptimeNanoseconds - started) / 1000)
            messages += page.results
            // Back to the newest page once the oldest was reached.
            cursor = page.isComplete ? "" : (page.first ?? "")
        }
        let measured = window.end(context)
        connection.close()
        report.figures["queries_per_second"] = Double(queries - failures) / measured.elapsed
        report.figures["messages_per_query"] = Double(messages) / Double(max(1, queries - failures))
        report.figures["query_p50_ms"] = histogram.milliseconds(atQuantile: 0.5)
        report.figures["query_p99_ms"] = histogram.milliseconds(atQuantile: 0.99)
        report.figures["query_max_ms"] = histogram.milliseconds(atQuantile: 1.0)
        report.figures["failures"] = Double(failures)
        if let cpu = measured.serverCPU { report.figures["server_cpu_ms_per_query"] = cpu * 1000 / Double(max(1, queries)) }
        return report
    }
}

/// Sends archive queries on one connection and collects their answers; used only on the connection's event loop.
final class ArchivePager: @unchecked Sendable {
    // @unchecked: every member is touched only on the connection's event loop.
    struct Page {
        var results: Int
        var isComplete: Bool
        var first: String?
    }

    private let connection: BenchConnection
    private var waiting: (id: String, promise: EventLoopPromise<Page>, results: Int)?

    init(connection: BenchConnection) {
        self.connection = connection
        connection.events.onStanza = { [unowned self] in self.received($0) }
    }

    func query(before: String, max: Int, with: String?) -> EventLoopFuture<Page> {
        connection.eventLoop.flatSubmit { [self] in
            let id = StanzaID.make()
            let promise = connection.eventLoop.makePromise(of: Page.self)
            waiting = (id, promise, 0)
            let namespace = "urn:xmpp:mam:2"
            var query = Element("query", namespace: namespace, attributes: ["queryid": id])
            if let with {
                var form = DataForm(type: .submit, formType: namespace)
                form.setValues([with], for: "with")
                query.append(form.element)
            }
            query.append(ResultSetPage(max: max, before: before).element)
            connection.channel.writeAndFlush(XMPPOutbound.element(IQ(type: .set, id: id, payload: query).element), promise: nil)
            return promise.futureResult
        }
    }

    private func received(_ element: Element) {
        guard let current = waiting else { return }
        if element.name == "message", element.child("result", namespace: "urn:xmpp:mam:2") != nil {
            waiting?.results += 1
        } else if element.name == "iq", element.attribute("id") == current.id {
            waiting = nil
            guard element.attribute("type") == "result", let fin = element.child("fin", namespace: "urn:xmpp:mam:2") else {
                return current.promise.fail(BenchConnectionError.malformed("query refused: \(element)"))
            }
            let set = fin.child("set", namespace: ResultSetPage.namespace).flatMap(ResultSetPage.init(element:))
            current.promise.succeed(Page(results: current.results, isComplete: fin.attribute("complete") == "true", first: set?.first))
        }
    }
}
