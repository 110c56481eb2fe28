import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import XMPPCore
import XMPPTransport

/// One connection attempt of an ``XMPPClient``: finds the server, opens TCP (and TLS), and waits for the
/// stream to be established; afterwards it relays the stream's events to the client, tagged with the attempt's
/// generation so events of an older connection are ignored.
final class ClientConnection: ClientStreamDelegate, Sendable {
    private struct State {
        var channel: (any Channel)?
        var waiter: CheckedContinuation<Void, any Error>?
        var outcome: Result<Void, XMPPClientError>?
        var isClosing = false
    }

    private weak let client: XMPPClient?
    let generation: Int
    private let state = Locked(State())

    init(client: XMPPClient, generation: Int) {
        self.client = client
        self.generation = generation
    }

    /// Set before the closing tag goes out: the connection ending afterwards is not an error.
    var isClosing: Bool {
        get { state.withLock { $0.isClosing } }
        set { state.withLock { $0.isClosing = newValue } }
    }

    /// Opens the connection and returns once the stream is established, within the configured timeout.
    func open(configuration: XMPPClient.Configuration, registering: Bool, resumption: StreamResumption?, keyCache: SCRAMKeyCache,
              group: any EventLoopGroup) async throws {
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                try await self.establish(configuration: configuration, registering: registering, resumption: resumption,
                                         keyCache: keyCache, group: group)
            }
            tasks.addTask {
                try await Task.sleep(for: configuration.connectTimeout)
                throw XMPPClientError.timeout
            }
            defer { tasks.cancelAll() }
            try await tasks.next()
        }
    }

    /// Closes the connection, if one is open.
    func close() {
        state.withLock { $0.channel }?.close(promise: nil)
    }

    private func establish(configuration: XMPPClient.Configuration, registering: Bool, resumption: StreamResumption?,
                           keyCache: SCRAMKeyCache, group: any EventLoopGroup) async throws {
        let domain = configuration.jid.domainpart
        if case .webSocket(let url) = configuration.server, url.scheme?.lowercased() == "ws", configuration.tls != .disabled {
            throw XMPPClientError.connectionFailed(FailureCause(
                .localConfiguration, "ws:// is not encrypted: use wss://, or set tls to .disabled for a local or proxied server"))
        }
        let tls = configuration.tls == .disabled ? nil : try ClientTLS(trust: configuration.trust, domain: domain)
        var negotiation = ClientNegotiationStateMachine.Configuration(
            jid: configuration.jid, password: configuration.password, mechanisms: configuration.mechanisms, scramKeyCache: keyCache)
        negotiation.tls = switch configuration.tls {
        case .required: .required
        case .ifAvailable: .ifAvailable
        case .disabled: .disabled
        }
        negotiation.registersAccount = registering
        negotiation.resumption = resumption
        let endpoints = try await ServiceLocator(nameServers: configuration.nameServers, group: group)
            .endpoints(for: configuration.server, domain: domain)
        var lastError: any Error = XMPPClientError.connectionFailed(FailureCause(.unknownHost, "no address for \(domain)"))
        for endpoint in endpoints where !Task.isCancelled {
            if endpoint.directTLS && tls == nil { continue }
            do {
                try await withTaskCancellationHandler {
                    try await attempt(endpoint, negotiation: negotiation, tls: tls, group: group,
                                      timeout: configuration.connectTimeout)
                } onCancel: {
                    self.close()
                }
                return
            } catch let error as XMPPClientError where !error.isConnectFailure {
                throw error
            } catch {
                lastError = error
            }
        }
        throw lastError as? XMPPClientError ?? XMPPClientError.connectionFailed(FailureCause(.other, "cannot connect", underlying: "\(lastError)"))
    }

    private func attempt(_ endpoint: ServiceEndpoint, negotiation: ClientNegotiationStateMachine.Configuration,
                         tls: ClientTLS?, group: any EventLoopGroup, timeout: Duration) async throws {
        let directTLS = endpoint.directTLS
        var tlsHandlerMaker: (@Sendable () throws -> NIOSSLClientHandler)?
        if let tls { tlsHandlerMaker = { try tls.makeHandler() } }
        let makeTLSHandler = tlsHandlerMaker
        let bootstrap = ConnectionBootstrap.make(group: group, connectTimeout: .nanoseconds(timeout.nanoseconds)) { channel in
            channel.eventLoop.makeCompletedFuture {
                if let target = endpoint.webSocketTarget {
                    if directTLS && makeTLSHandler == nil {
                        throw XMPPClientError.connectionFailed(FailureCause(.localConfiguration, "wss:// needs TLS"))
                    }
                    return try XMPPWebSocketClientPipeline.configure(
                        channel, host: endpoint.host, port: endpoint.port, target: target, domain: negotiation.jid.domainpart,
                        makeTLSHandler: directTLS ? makeTLSHandler : nil,
                        makeStreamHandler: { decoder in
                            ClientStreamHandler(configuration: negotiation, decoder: decoder, directTLS: directTLS,
                                                makeTLSHandler: nil, delegate: self, startsWhenAdded: true)
                        },
                        failed: { cause in self.finish(.failure(.connectionFailed(cause))) })
                }
                let operations = channel.pipeline.syncOperations
                if directTLS, let makeTLSHandler { try operations.addHandler(try makeTLSHandler()) }
                let decoder = XMPPStreamDecoder()
                let handler = ClientStreamHandler(configuration: negotiation, decoder: decoder, directTLS: directTLS,
                                                  makeTLSHandler: makeTLSHandler, delegate: self)
                try operations.addHandlers([decoder, XMPPStreamEncoder(), handler])
            }
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            state.withLock { $0.waiter = continuation }
            bootstrap.connect(host: endpoint.host, port: endpoint.port).whenComplete { result in
                switch result {
                case .success(let channel):
                    let closeNow = self.state.withLock { state -> Bool in
                        state.channel = channel
                        return state.waiter == nil
                    }
                    if closeNow { channel.close(promise: nil) }
                case .failure(let error):
                    self.finish(.failure(.connectionFailed(.connecting(to: endpoint.host, port: endpoint.port, error: error))))
                }
            }
        }
    }

    /// Resumes the waiting ``open`` once.
    private func finish(_ outcome: Result<Void, XMPPClientError>) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(with: outcome.mapError { $0 as any Error })
    }

    // MARK: - ClientStreamDelegate

    func clientStream(enteredPhase phase: ClientStreamPhase) {
        client?.setConnectionState(phase == .securing ? .securing : .authenticating, generation: generation)
    }

    func clientStreamEstablished(jid: JID, features: StreamFeatures, mechanism: SASLMechanism?, channel: any Channel) {
        client?.sessionEstablished(jid: jid, features: features, mechanism: mechanism, channel: channel, generation: generation)
        finish(.success(()))
    }

    func clientStreamResumed(jid: JID, handled: UInt32, features: StreamFeatures, channel: any Channel) {
        client?.sessionResumed(jid: jid, handled: handled, features: features, channel: channel, generation: generation)
        finish(.success(()))
    }

    func clientStreamReceived(_ element: Element) {
        client?.dispatch(element, generation: generation)
    }

    func clientStreamEnded(_ failure: ClientStreamFailure?) {
        let closing = isClosing
        let failure = failure.map(XMPPClientError.init) ?? .connectionLost("the connection closed")
        finish(.failure(failure))
        client?.sessionEnded(closing ? nil : failure, generation: generation)
    }
}

extension XMPPClientError {
    /// Whether the next endpoint may do better: the TCP connection itself failed.
    var isConnectFailure: Bool {
        if case .connectionFailed = self { return true }
        return false
    }
}

extension XMPPClientError {
    /// The client's error for why the stream ended.
    init(_ failure: ClientStreamFailure) {
        switch failure {
        case .negotiation(let error): self.init(error)
        case .streamError(let error): self = .streamError(error)
        case .tls(let text): self = .tlsFailed(text)
        case .connectionLost(let text): self = .connectionLost(text)
        }
    }
}
