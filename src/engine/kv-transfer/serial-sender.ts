// A ZeroMQ socket takes one send at a time; callers from several requests queue here.

import type { Dealer, Router } from 'zeromq';

export class SerialSender {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly socket: Router | Dealer) {}

  /** Queues the message; a failed send (the socket closed) is dropped, as ZeroMQ drops unroutable ones. */
  send(frames: (string | Buffer)[]): Promise<void> {
    this.tail = this.tail.then(() => this.socket.send(frames)).catch(() => {});
    return this.tail;
  }
}
