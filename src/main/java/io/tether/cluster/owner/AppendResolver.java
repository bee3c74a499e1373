package io.tether.cluster.owner;

import io.tether.stream.AppendSpec;
import io.tether.stream.Fence;
import io.tether.stream.Outcome;
import io.tether.stream.StreamProcessors;
import io.tether.stream.StreamReply;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.function.BooleanSupplier;
import java.util.function.LongFunction;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * An owner's appends, numbered, and settled when Hazelcast leaves one in doubt.
 *
 * <p>Each append goes out as the owner's next numbered {@link StreamProcessors.Append}. When its attempt
 * fails in a way that says nothing about whether it was applied ({@link #inDoubt}: the member running it
 * left before answering, its backup never confirmed it, it completed while its backup member was
 * leaving), the same numbered append is sent again as {@link StreamProcessors.AppendAgain}. The stream's
 * record of the owner's appends ({@link io.tether.stream.OwnerAppends}) then answers with the original
 * offset, applies it now, or says it cannot tell. A refusal of the second attempt by the member itself
 * (no quorum, the partition moving, the owner fenced) says nothing about the first, so it is sent again,
 * with a growing pause, until the writer's deadline; then, as for any other failure, the failure stands
 * and the writer is told the outcome is unknown.
 */
final class AppendResolver {

  private static final Logger log = LoggerFactory.getLogger(AppendResolver.class);

  /** The first pause before an append in doubt is sent again (doubling, up to eight times this). */
  static final long RESEND_DELAY_MILLIS = 25;

  /** Runs one attempt: the processor's reply, or its failure. */
  interface Attempts {
    Future<StreamReply> run(StreamProcessors.Primary processor);
  }

  private final String stream;
  private final Attempts attempts;
  private final Supplier<Fence> fence;
  private final BooleanSupplier retired;
  private final LongFunction<Future<?>> pause;
  private final LongSupplier clock;
  private final Runnable onResolved;
  private long seq;

  /**
   * @param attempts   runs an append's processor (an append applied without a confirmed backup fails)
   * @param fence      the owner's current fence
   * @param retired    whether the owner has stepped down (nothing more is sent then)
   * @param pause      a future that completes after the given milliseconds
   * @param clock      wall-clock milliseconds, the deadlines' clock
   * @param onResolved counts an append settled by sending it again
   */
  AppendResolver(String stream, Attempts attempts, Supplier<Fence> fence, BooleanSupplier retired,
                 LongFunction<Future<?>> pause, LongSupplier clock, Runnable onResolved) {
    this.stream = stream;
    this.attempts = attempts;
    this.fence = fence;
    this.retired = retired;
    this.pause = pause;
    this.clock = clock;
    this.onResolved = onResolved;
  }

  /** Appends {@code spec} as the owner's next numbered append; settles it by {@code deadline} if it can. */
  Future<StreamReply> append(AppendSpec spec, long deadline) {
    long number = ++seq;
    return run(new StreamProcessors.Append(spec, fence.get(), clock.getAsLong(), number))
        .recover(failure -> resolve(spec, number, failure, deadline, 0));
  }

  /** One attempt; the stream's "cannot tell" ({@link Outcome#IN_DOUBT}) is a failure that stays in doubt. */
  private Future<StreamReply> run(StreamProcessors.Primary processor) {
    return attempts.run(processor).compose(reply -> reply.outcome() == Outcome.IN_DOUBT
        ? Future.failedFuture(new StillInDoubt(reply.detail())) : Future.succeededFuture(reply));
  }

  private Future<StreamReply> resolve(AppendSpec spec, long number, Throwable failure, long deadline, int tries) {
    long now = clock.getAsLong();
    if (!inDoubt(failure) || retired.getAsBoolean() || now + RESEND_DELAY_MILLIS >= deadline) {
      return Future.failedFuture(failure);
    }
    // Never past the deadline: the last attempt goes out with a pause's worth of the writer's wait left.
    long delay = Math.min(RESEND_DELAY_MILLIS << Math.min(tries, 3), deadline - now - RESEND_DELAY_MILLIS);
    return pause.apply(delay)
        .compose(t -> {
          if (clock.getAsLong() >= deadline || retired.getAsBoolean()) {
            // The process froze through the pause (or the owner stepped down): the writer has been told the
            // outcome is unknown, and may have sent the append again itself. Nothing more goes out.
            return Future.failedFuture(failure);
          }
          return run(new StreamProcessors.AppendAgain(spec, fence.get(), clock.getAsLong(), number));
        })
        .compose(reply -> {
          if (reply.outcome() == Outcome.MOVED || reply.outcome() == Outcome.STALE_OWNER || reply.outcome().isRetryLater()) {
            // Refused before the stream was consulted: nothing learnt about the first attempt.
            return resolve(spec, number, new InDoubt("sent again and refused: " + reply.detail()), deadline, tries + 1);
          }
          onResolved.run();
          // Rare outside faults, and each one is a write that would have been answered "outcome unknown".
          log.info("append {} to {} was in doubt ({}); sent again after {} refusal(s), answered {} at {}", number, stream,
              failure.getMessage(), tries, reply.outcome(), reply.start());
          return Future.succeededFuture(reply);
        }, again -> resolve(spec, number, again, deadline, tries + 1));
  }

  /**
   * Whether an append's failure leaves open whether it was applied, in a way sending it again can settle:
   * Hazelcast reports that the member running it left before answering, or that its backup never
   * confirmed it; or it completed while its backup member was leaving ({@link InDoubt}).
   */
  static boolean inDoubt(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof InDoubt || t instanceof com.hazelcast.core.IndeterminateOperationStateException
          || t instanceof com.hazelcast.core.MemberLeftException) {
        return true;
      }
    }
    return false;
  }

  /** An attempt that may or may not have applied its append, which sending it again can settle. */
  static class InDoubt extends RuntimeException {
    InDoubt(String message) {
      super(message, null, false, false);
    }
  }

  /** The stream could not tell whether the append was applied: it stays in doubt. */
  static final class StillInDoubt extends RuntimeException {
    StillInDoubt(String why) {
      super("the append was sent again and the stream could not tell whether the first was applied: " + why,
          null, false, false);
    }
  }
}
