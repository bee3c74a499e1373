package io.tether.cluster;

import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Handler;

import java.util.concurrent.Callable;

/**
 * A blocking check (a Hazelcast call or scan) that a verticle runs now and then on a worker thread, one
 * at a time.
 *
 * <p>The check runs in the verticle's ordered blocking queue. When the verticle is undeployed (as
 * Vert.x closes, on every stop of a node), Vert.x interrupts a check still running and waits for it
 * before it closes the event loops. An unordered one would be left to finish on its own: its result
 * would then be handed to an event loop that no longer exists, and the worker thread would die of a
 * {@code RejectedExecutionException} after the node had stopped.
 *
 * <p>Create it in the verticle's {@code start}, on its context; call {@link #run} from that context.
 */
public final class BlockingCheck {

  private final Context context;
  private boolean running;

  public BlockingCheck(Context context) {
    this.context = context;
  }

  /** Whether a check started by {@link #run} has not completed yet. */
  public boolean running() {
    return running;
  }

  /**
   * Starts {@code check} on a worker unless one is still running; {@code done} gets its result on the
   * verticle's context.
   *
   * @return whether it started
   */
  public <T> boolean run(Callable<T> check, Handler<AsyncResult<T>> done) {
    if (running) {
      return false;
    }
    running = true;
    context.executeBlocking(check, true).onComplete(result -> {
      running = false;
      done.handle(result);
    });
    return true;
  }
}
