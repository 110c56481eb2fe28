import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// GET and HEAD of a stored file: one byte range at most, read from disk chunk by chunk at the client's pace.
extension UploadExchange {
    func serve(context: ChannelHandlerContext) {
        guard let file = store.file(token: token, name: name) else {
            return respond(Self.text(.notFound, "no such file (it may have expired)"), context: context)
        }
        var headers = Self.downloadHeaders(contentType: file.contentType)
        let range = ByteRange(header: head.headers.first(name: "range"), size: file.size)
        let (status, offset, length): (HTTPResponseStatus, Int, Int)
        switch range {
        case .whole: (status, offset, length) = (.ok, 0, file.size)
        case .partial(let lower, let upper):
            (status, offset, length) = (.partialContent, lower, upper - lower + 1)
            headers.add(name: "Content-Range", value: "bytes \(lower)-\(upper)/\(file.size)")
        case .unsatisfiable:
            var response = Self.text(.rangeNotSatisfiable, "the range is outside the file (\(file.size) bytes)")
            response.headers.add(name: "Content-Range", value: "bytes */\(file.size)")
            return respond(response, context: context)
        }
        headers.replaceOrAdd(name: "Content-Length", value: String(length))
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        guard head.method == .GET, length > 0 else {
            return finishResponse(context: context, close: !keepAlive)
        }
        finished = true
        let eventLoop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: eventLoop)
        let opened = NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) { try UploadFile.openForReading(file.path) }
        opened.whenComplete { result in
            let (exchange, context) = bound.value
            guard case .success(let handle) = result else { return context.close(promise: nil) }
            exchange.send(handle, from: offset, remaining: length, context: context, close: !keepAlive)
        }
    }

    /// Sends the file in chunks, each read after the previous one was written (the client's pace).
    private func send(_ file: UploadFile, from offset: Int, remaining: Int, context: ChannelHandlerContext, close: Bool) {
        guard remaining > 0 else {
            NIOThreadPool.singleton.submit { _ in file.close() }
            return finishResponse(context: context, close: close)
        }
        let count = min(remaining, 65_536)
        let allocator = context.channel.allocator
        let read = NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) { try file.read(at: offset, count: count, allocator: allocator) }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        read.whenComplete { result in
            let (exchange, context) = bound.value
            guard case .success(let chunk) = result, context.channel.isActive else {
                NIOThreadPool.singleton.submit { _ in file.close() }
                return context.close(promise: nil)
            }
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.body(.byteBuffer(chunk)))).whenComplete { written in
                let (exchange, context) = bound.value
                guard case .success = written else {
                    NIOThreadPool.singleton.submit { _ in file.close() }
                    return
                }
                exchange.send(file, from: offset + chunk.readableBytes, remaining: remaining - chunk.readableBytes, context: context, close: close)
            }
            _ = exchange
        }
    }

}
