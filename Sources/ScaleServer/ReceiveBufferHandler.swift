import NIOCore

/// Lets a connection read up to ``maximum`` bytes per read instead of NIO's
/// default 64 KiB, then leaves the pipeline.
///
/// A push body is megabytes: at 64 KiB a read, a 2 MiB tensor is 32 reads,
/// each a system call, a trip through the HTTP parser and a hand-off to the
/// push's task. The allocator still starts small and grows only for a
/// connection that keeps filling its buffer, so small requests cost nothing more.
final class ReceiveBufferHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    /// The largest read, in bytes.
    static let maximum = 1 << 20

    func handlerAdded(context: ChannelHandlerContext) {
        let allocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: Self.maximum)
        try? context.channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: allocator)
        context.pipeline.syncOperations.removeHandler(self, promise: nil)
    }
}
