// A ZeroMQ socket takes one send at a time; callers from several requests queue here. And the socket
// options the block traffic needs.

/**
 * Socket options for block traffic: kernel buffers of 8 MiB. With the OS defaults a 46 MB pull over
 * loopback took ~150 ms (0.3 GB/s); with these, ~15 ms (3 GB/s), as fast over TCP as over ipc://.
 */
export const BULK_SOCKET_OPTIONS = { linger: 0, sendBufferSize: 8 << 20, receiveBufferSize: 8 << 20 };

export class SerialSender {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly socket: { send(frames: (string | Buffer | Uint8Array)[]): Promise<void> }) {}

  /** Queues the message; a failed send (the socket closed) is dropped, as ZeroMQ drops unroutable ones. */
  send(frames: (string | Buffer | Uint8Array)[]): Promise<void> {
    this.tail = this.tail.then(() => this.socket.send(frames)).catch(() => {});
    return this.tail;
  }
}
