package io.tether.cluster.owner;

import io.tether.cluster.routing.StreamRequest;

import io.vertx.core.Future;

/**
 * Logic that lives beside one stream's owner, on the owner's context, for exactly as long as that owner
 * owns the stream (the conversation layer's session logic is one). It writes to the stream only through
 * its {@link OwnerHandle}, so its appends carry the owner's fencing epoch.
 */
public interface OwnerCompanion {

  /** The owner holds the stream (it claimed an existing stream, or created it). */
  void start();

  /**
   * A {@link StreamRequest.Command} sent to the stream; completes with the JSON answer, or fails with
   * {@link Stopped} when the companion stopped before handling it.
   */
  Future<String> command(String json);

  /** The owner no longer owns the stream (it stepped down, the node stops, the stream is gone). */
  void stop();

  /**
   * Periodic upkeep, called by the owner on its context from the node's sweep (every few seconds), so
   * that a companion needs no timer of its own while nothing happens (presence leases lapse here).
   */
  default void sweep(long now) {
  }

  /**
   * Whether the companion has work in progress that only this owner can carry on (a generation, a tool
   * it runs, events or a snapshot being written, devices present): the owner then stays up. A session
   * that merely waits for a human decision or a client's tool result is not busy; its next command
   * wakes a new owner, which restores it.
   */
  default boolean busy() {
    return false;
  }

  /** A command failed because the companion stopped before handling it: it can go to the next owner. */
  final class Stopped extends RuntimeException {
    public Stopped() {
      super("the stream's companion stopped", null, false, false);
    }
  }

  /** Creates the companion of a stream, or answers {@code null} when the stream needs none. */
  interface Factory {
    OwnerCompanion create(OwnerHandle owner);
  }
}
