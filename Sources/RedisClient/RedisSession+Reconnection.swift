/// The session's one background task: connect, subscribe again, pass messages on until the connection goes, wait,
/// and again, until closed.
extension RedisSession {
    static let firstDelay = Duration.milliseconds(100)
    static let maxDelay = Duration.seconds(2)

    func superviseConnections() async {
        var delay = Self.firstDelay
        var failedBefore = false
        while !isClosed {
            if let connection = await connectAndSubscribe(failedBefore: failedBefore) {
                log?("Redis \(host):\(port): connected")
                delay = Self.firstDelay
                failedBefore = false
                for await push in connection.pushes { deliver(push) }
                detach(connection)
                if isClosed { break }
                log?("Redis \(host):\(port): connection lost; reconnecting")
            } else {
                failedBefore = true
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, Self.maxDelay)
        }
    }

    var isClosed: Bool {
        shared.withLock { $0.closed }
    }

    /// A new connection with the remembered subscriptions made on it, reported connected; nil when it could not be
    /// made (or the session closed meanwhile).
    private func connectAndSubscribe(failedBefore: Bool) async -> RedisConnection? {
        let connection: RedisConnection
        do {
            connection = try await RedisConnection.connect(host: host, port: port, username: username, password: password,
                                                           answerTimeout: answerTimeout, tls: tls, group: group)
        } catch {
            if !failedBefore { log?("Redis \(host):\(port): cannot connect (\(error)); retrying") }
            return nil
        }
        // Attached first: a subscribe() from now on goes to this connection itself, one before is in `channels`.
        let channels = shared.withLock { shared -> [String]? in
            guard !shared.closed else { return nil }
            shared.attached = connection
            return Array(shared.channels)
        }
        do {
            guard let channels else { throw RedisError.notConnected }
            if !channels.isEmpty { try await Self.subscribe(channels, on: connection) }
            try shared.withLock { shared in
                guard !shared.closed, connection.isActive else { throw RedisError.connectionClosed }
                shared.ready = connection
                stateSink.yield(.connected)
            }
            return connection
        } catch {
            if !failedBefore { log?("Redis \(host):\(port): lost while subscribing again (\(error)); retrying") }
            detach(connection)
            await connection.close()
            return nil
        }
    }

    /// Forgets a connection that went, reporting it if it was up.
    private func detach(_ connection: RedisConnection) {
        shared.withLock { shared in
            if shared.attached === connection { shared.attached = nil }
            if shared.ready === connection {
                shared.ready = nil
                stateSink.yield(.disconnected)
            }
        }
    }

    /// Passes a pub/sub message on (`["message", channel, payload]`); other pushes (confirmations) are not messages.
    private func deliver(_ push: [RESPValue]) {
        guard push.count == 3, push[0].string == "message", let channel = push[1].string,
              case .bulkString(let payload?) = push[2] else { return }
        if case .dropped = messageSink.yield(Message(channel: channel, payload: payload)) {
            shared.withLock { $0.droppedMessages += 1 }
        }
    }
}
