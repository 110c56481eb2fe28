import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The HTTP answers of the upload URLs: headers of downloads, short text answers, and ending a response.
extension UploadExchange {
    /// Headers of a download: the stored type, but never run as a page of this origin (an uploaded HTML file must
    /// not script the web console), readable by web clients of other origins.
    static func downloadHeaders(contentType: String) -> HTTPHeaders {
        HTTPHeaders([
            ("Content-Type", contentType),
            ("Accept-Ranges", "bytes"),
            ("X-Content-Type-Options", "nosniff"),
            ("Content-Security-Policy", "default-src 'none'; sandbox"),
            ("Access-Control-Allow-Origin", "*"),
            ("Cache-Control", "private, max-age=86400"),
        ])
    }

    static func text(_ status: HTTPResponseStatus, _ text: String) -> WebResponse {
        var response = WebResponse.text(status, text)
        // Web clients upload from their own origin (XEP-0363 §7).
        response.headers.add(name: "Access-Control-Allow-Origin", value: "*")
        response.headers.add(name: "Access-Control-Allow-Methods", value: "PUT, GET, HEAD, OPTIONS")
        response.headers.add(name: "Access-Control-Allow-Headers", value: "Content-Type")
        return response
    }

    /// The `type/subtype` of a Content-Type, lowercased, without parameters.
    static func mediaType(_ value: String?) -> String? {
        value?.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    }

    func respond(_ response: WebResponse, context: ChannelHandlerContext, close: Bool = false) {
        finished = true
        var headers = response.headers
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.readableBytes))
        let close = close || !head.isKeepAlive
        if close { headers.replaceOrAdd(name: "Connection", value: "close") }
        context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: head.version, status: response.status, headers: headers))),
                      promise: nil)
        if head.method != .HEAD { context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(response.body))), promise: nil) }
        finishResponse(context: context, close: close)
    }

    func finishResponse(context: ChannelHandlerContext, close: Bool) {
        let channel = context.channel
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in
            if close { channel.close(promise: nil) }
        }
    }}
