package io.tether.stream;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import com.hazelcast.query.Predicates;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;

import java.util.Set;

/**
 * The Hazelcast map that holds every stream's {@link StreamLog}, keyed by stream name. Its
 * configuration (OBJECT in-memory format, one synchronous backup) is in {@code cluster.xml}.
 *
 * <p>All access goes through entry processors submitted asynchronously; the returned futures complete
 * on the caller's Vert.x context, so owners never block an event loop.
 */
public final class StreamStore {

  public static final String MAP_NAME = "tether.streams";

  private final IMap<String, StreamLog> map;

  public StreamStore(HazelcastInstance hazelcast) {
    this.map = hazelcast.getMap(MAP_NAME);
  }

  /**
   * Runs {@code processor} on the stream's partition; completes on {@code context}.
   *
   * <p>A processor that runs on this member leaves its reply on itself ({@link
   * StreamProcessors.Primary#answerInPlace}) rather than have Hazelcast serialize it and read it back.
   *
   * <p>The completion callback runs on the thread that completes the operation (the partition thread)
   * and only hands the result to {@code context}. Hazelcast's plain {@code whenComplete} would instead
   * use its default async executor, which on machines with fewer than three cores starts a new thread
   * per callback.
   */
  public Future<StreamReply> execute(String stream, StreamProcessors.Primary processor, Context context) {
    Promise<StreamReply> promise = Promise.promise();
    java.util.concurrent.CompletionStage<StreamReply> submitted;
    processor.answerInPlace();
    try {
      submitted = map.submitToKey(stream, processor);
    } catch (RuntimeException e) {
      // Refused before anything was sent (the member is shutting down): certainly not applied.
      return Future.failedFuture(new NotSubmitted(e));
    }
    submitted.whenCompleteAsync((reply, failure) -> context.runOnContext(v -> {
      if (failure != null) {
        promise.fail(failure);
      } else {
        StreamReply answer = processor.reply(reply);
        if (answer == null) {
          promise.fail(new IllegalStateException(processor.getClass().getSimpleName() + " completed without a reply"));
        } else {
          promise.complete(answer);
        }
      }
    }), Runnable::run);
    return promise.future();
  }

  /** A processor that was never submitted: it did not run anywhere. */
  public static final class NotSubmitted extends RuntimeException {
    NotSubmitted(RuntimeException cause) {
      super(cause.getMessage(), cause, false, false);
    }
  }

  /** Streams in this member's primary partitions whose expiry deadline has passed. */
  public Set<String> localExpired(long now) {
    return map.localKeySet(Predicates.lessEqual("deadlineMillis", now));
  }

  /** Number of streams whose primary copy lives on this member. */
  public int localSize() {
    long owned = map.getLocalMapStats().getOwnedEntryCount();
    return owned > Integer.MAX_VALUE ? Integer.MAX_VALUE : (int) owned;
  }

  /**
   * Whether this member's primary copies number {@code limit} or more; a {@code false} answer counts one
   * more stream (the create it lets through). Hazelcast's count sums every partition's record store and
   * its locks, and cost a tenth of the event loops' time in a run of creates (JFR, 4,500 streams over
   * 3 members), so a create is let through on a count up to {@link #RECOUNT_NANOS} old plus the creates
   * let through since; only a refusal is always checked against a fresh count. Streams that arrive by
   * migration count from the next count on, and creates that race each other can pass the limit by as
   * many as run at once.
   */
  public boolean atCapacity(int limit) {
    Count current = count;
    long now = System.nanoTime();
    if (current == null || now - current.at >= RECOUNT_NANOS) {
      current = new Count(now, localSize());
      count = current;
    }
    if (current.size + current.since.get() >= limit) {
      // Near the limit a "full" is always confirmed by a fresh count: a delete frees a place at once.
      current = new Count(now, localSize());
      count = current;
      if (current.size >= limit) {
        return true;
      }
    }
    current.since.incrementAndGet();
    return false;
  }

  /** How long a count of this member's streams stands for {@link #atCapacity}. */
  static final long RECOUNT_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(1);

  private volatile Count count;

  /** A count of this member's streams taken at {@code at}, and the creates let through since. */
  private record Count(long at, int size, java.util.concurrent.atomic.AtomicInteger since) {
    Count(long at, int size) {
      this(at, size, new java.util.concurrent.atomic.AtomicInteger());
    }
  }
}
