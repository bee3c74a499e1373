package io.tether.cluster.routing;

import io.tether.cluster.ClusterView;
import io.tether.cluster.owner.CommandReply;
import io.tether.cluster.owner.OwnerCompanion;
import io.tether.cluster.owner.OwnerInfo;
import io.tether.stream.Outcome;
import io.tether.stream.StreamReply;
import io.tether.wire.WireMessage;
import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Sends a request to the owner of a stream, wherever it runs, and relays the answer. This is how every
 * transport on every node reaches stream state: handlers never touch the map themselves.
 *
 * <ol>
 *   <li>Send to the stream's own clustered address ({@link Addresses#stream}).</li>
 *   <li>No handler anywhere: ask the node holding the stream's primary partition to activate an owner
 *       ({@link Activate}), then send again.</li>
 *   <li>The owner answers {@link Outcome#MOVED} (it was fenced or is handing over): ask the partition's
 *       node, as in step 2, after a
 *       short pause, which picks up the new registration.</li>
 *   <li>No answer in time: a request that is not {@link StreamRequest#retriable() retriable} fails with
 *       {@link RouteException.Kind#OUTCOME_UNKNOWN}. A retriable one keeps waiting while the member it
 *       went to is alive (its owner is only slow: a node that has just rejoined, cold, or a saturated
 *       one, which a second copy would only load twice), and is sent again through the
 *       partition's node as a last chance one request timeout before the route deadline
 *       ({@link Call#patienceOver}). A late answer of an earlier attempt is taken as the answer. A member
 *       that leaves is handled apart, at once ({@link #memberLeft}).</li>
 * </ol>
 * Retries stop at the route deadline with {@link RouteException.Kind#UNAVAILABLE}.
 */
public final class StreamRouter {

  private static final Logger log = LoggerFactory.getLogger(StreamRouter.class);
  private static final long MAX_BACKOFF_MILLIS = 200;
  /**
   * Failure code with which a node that relayed a request to an owner says the owner may have applied
   * it without answering: the router reports {@link RouteException.Kind#OUTCOME_UNKNOWN}, never resends.
   */
  public static final int OUTCOME_UNKNOWN_CODE = 4503;
  /** Failure code of an owner that could not serve a read for now (a cluster operation failed): retry. */
  public static final int UNAVAILABLE_CODE = 4502;
  /** A request that needed longer than this to route is logged with the steps it took. */
  private static final long SLOW_ROUTE_MILLIS = 500;
  /**
   * After a member left (or announced it is leaving), how long requests go straight to the node holding
   * the stream's partition: event-bus registrations of the departed member can linger in the other
   * members' caches for a moment, and a message sent to one of them is silently lost.
   */
  private static final long UNSETTLED_MILLIS = 3_000;

  private final Vertx vertx;
  private final EventBus eventBus;
  private final ClusterView cluster;
  private final long requestTimeoutMillis;
  private final long deadlineMillis;
  private final Set<Call<?>> inFlight = ConcurrentHashMap.newKeySet();
  private volatile long unsettledUntil;
  /** Counts the members that left (or announced they are leaving); an attempt notes it when sent. */
  private final AtomicLong membershipEpoch = new AtomicLong();
  private volatile LocalOwners localOwners;

  /** The owners on this node, which requests reach without the event bus (see {@link LocalRequest}). */
  public interface LocalOwners {
    /** Hands {@code request} to the stream's owner on this node; false if there is none. */
    boolean deliver(String stream, Message<WireMessage> request);
  }

  public StreamRouter(Vertx vertx, ClusterView cluster, long requestTimeoutMillis, long deadlineMillis) {
    this.vertx = vertx;
    this.eventBus = vertx.eventBus();
    this.cluster = cluster;
    this.requestTimeoutMillis = requestTimeoutMillis;
    this.deadlineMillis = deadlineMillis;
  }

  private volatile String localNode;

  /** This node's id (cached: it never changes). */
  private String localNode() {
    String id = localNode;
    if (id == null) {
      id = cluster.localNodeId();
      localNode = id;
    }
    return id;
  }

  /** Requests whose stream has its owner on this node go to it directly from now on. */
  public void deliverLocally(LocalOwners owners) {
    this.localOwners = owners;
  }

  private volatile Runnable onTimeout = () -> { };

  /** Runs {@code hook} for every attempt that got no answer within its timeout (for the metrics). */
  public void onTimeout(Runnable hook) {
    this.onTimeout = hook;
  }

  /** Sends {@code request} to the stream's owner; completes with its {@link StreamReply}. */
  public Future<StreamReply> request(String stream, StreamRequest request) {
    return this.<StreamReply>call(stream, request);
  }

  /** Admin: the owner's identity and epoch. */
  public Future<OwnerInfo> describe(String stream) {
    return this.<WireMessage>call(stream, new StreamRequest.Describe()).compose(body -> {
      if (body instanceof OwnerInfo info) {
        return Future.succeededFuture(info);
      }
      return Future.failedFuture(refusal((StreamReply) body));
    });
  }

  /** The failure for an answer that is not the one asked for: a quorum refusal, else not found. */
  private static RouteException refusal(StreamReply reply) {
    if (reply.outcome() == Outcome.PARTITION_LOST) {
      return new RouteException(RouteException.Kind.PARTITION_LOST, reply.detail());
    }
    if (reply.outcome().isRetryLater()) {
      return new RouteException(RouteException.Kind.NO_QUORUM, reply.detail());
    }
    return new RouteException(RouteException.Kind.NOT_FOUND, reply.detail());
  }

  /**
   * Sends a command to the stream's {@link OwnerCompanion}; completes with its JSON answer, or fails
   * with {@link RouteException.Kind#NOT_FOUND} when the stream does not exist or has no companion.
   */
  public Future<String> command(String stream, StreamRequest.Command command) {
    return this.<WireMessage>call(stream, command).compose(body -> {
      if (body instanceof CommandReply reply) {
        return Future.succeededFuture(reply.json());
      }
      return Future.failedFuture(refusal((StreamReply) body));
    });
  }

  /** Requests this node has sent to owners and not yet seen answered. */
  public int inFlight() {
    return inFlight.size();
  }

  /** Fire-and-forget (unsubscribe): delivered if an owner is registered, dropped otherwise. */
  public void notify(String stream, StreamRequest request) {
    eventBus.send(Addresses.stream(stream), request);
  }

  private <T extends WireMessage> Future<T> call(String stream, StreamRequest request) {
    if (!cluster.hasQuorum()) {
      // A minority side (or a node that just woke from a pause) serves nothing: the client goes elsewhere.
      return Future.failedFuture(new RouteException(RouteException.Kind.NO_QUORUM,
          "this node is not in touch with a majority of the cluster; retry on another node"));
    }
    Call<T> call = new Call<>(stream, request, System.currentTimeMillis() + deadlineMillis);
    inFlight.add(call);
    call.promise.future().onComplete(ar -> {
      inFlight.remove(call);
      long took = System.currentTimeMillis() - call.started;
      if (ar.failed() && ar.cause() instanceof RouteException re && re.kind() == RouteException.Kind.OUTCOME_UNKNOWN) {
        // Each one is a writer told that it cannot know: the route says where the doubt arose.
        log.info("{} on {} answered outcome unknown after {} ms: {}; route: {}", request.getClass().getSimpleName(),
            stream, took, re.getMessage(), call.steps);
      } else if (took >= SLOW_ROUTE_MILLIS) {
        log.info("slow route: {} on {} took {} ms ({}): {}", request.getClass().getSimpleName(), stream, took,
            ar.succeeded() ? "answered" : ar.cause().getMessage(), call.steps);
      }
    });
    if (request instanceof StreamRequest.Create || System.currentTimeMillis() < unsettledUntil) {
      // Most creates are for new streams: skip the look-up that would only find no owner. While the
      // membership settles, the partition's node is the reliable way to the owner.
      call.activate(++call.attempt);
    } else {
      call.send();
    }
    return call.promise.future();
  }

  /**
   * Member {@code nodeId} left the cluster (or announced it is leaving): requests that may have been sent
   * to it will never be answered, so the retriable ones are sent again at once instead of waiting for
   * their timeout. They go through the node that now holds the stream's partition ({@link Call#activate}),
   * not the event-bus address, whose registrations on the dead member may not have been dropped yet.
   * Requests whose attempt went to another member are left alone: resending them would load the
   * survivors twice at the moment they take over the dead member's streams.
   */
  public void memberLeft(String nodeId) {
    membershipEpoch.incrementAndGet();
    unsettledUntil = System.currentTimeMillis() + UNSETTLED_MILLIS;
    for (Call<?> call : inFlight) {
      if (call.request.retriable()) {
        call.context.runOnContext(v -> {
          String target = call.target;
          if (target == null || target.equals(nodeId)) {
            call.resendThroughPartitionOwner();
          }
        });
      }
    }
  }

  /** One routed request and its attempts; runs on the context that made it. */
  private final class Call<T extends WireMessage> {
    final String stream;
    final StreamRequest request;
    final long deadline;
    final Promise<T> promise = Promise.promise();
    final Context context = vertx.getOrCreateContext();
    final long started = System.currentTimeMillis();
    /** What happened besides a plain answer, for the slow-route log line. */
    final StringBuilder steps = new StringBuilder();
    int tries;
    int attempt;
    /** Attempts that timed out: each next attempt waits longer. */
    int timeouts;
    /** Whether the call has already waited past an attempt's patience for a live owner (once per call). */
    boolean waited;
    /**
     * The member the current attempt went to: the node asked to activate, this node for a local owner,
     * and for the stream's address the member holding the stream's partition when it was sent (where its
     * owner runs unless it is moving); {@code null} if unknown.
     */
    String target;

    Call(String stream, StreamRequest request, long deadline) {
      this.stream = stream;
      this.request = request;
      this.deadline = deadline;
    }

    @SuppressWarnings("unchecked")
    void send() {
      if (System.currentTimeMillis() < unsettledUntil) {
        // The address may still name a departed member: the partition's node knows where the owner is.
        activate(++attempt);
        return;
      }
      int current = ++attempt;
      ask(Addresses.stream(stream), null, request, false, attemptTimeout(), current, ar -> {
        if (ar.succeeded()) {
          WireMessage body = ar.result().body();
          if (body instanceof StreamReply reply && reply.outcome() == Outcome.MOVED) {
            // The old owner may stay registered for a while: go through the partition's node instead.
            retry(backoff(tries), "owner moved", true);
          } else {
            promise.tryComplete((T) body);
          }
          return;
        }
        Throwable cause = ar.cause();
        if (cause instanceof ReplyException re && re.failureType() == ReplyFailure.NO_HANDLERS) {
          activate(current);
        } else if (discarded(cause)) {
          // An owner stepped down (passivated) with the request queued and unread: never applied.
          retry(0, "discarded by an owner stepping down", true);
        } else if (cause instanceof ReplyException re && re.failureType() == ReplyFailure.TIMEOUT) {
          onTimeout.run();
          if (request.retriable()) {
            // The address may name a member that is gone: ask the partition's node this time.
            timeouts++;
            retry(0, "timeout", true);
          } else {
            promise.tryFail(new RouteException(RouteException.Kind.OUTCOME_UNKNOWN,
                "the stream owner did not answer in time; the request may or may not have been applied"));
          }
        } else if (cause instanceof ReplyException re && re.failureType() == ReplyFailure.RECIPIENT_FAILURE) {
          promise.tryFail(recipientFailure(re));
        } else {
          retry(backoff(tries), String.valueOf(cause));
        }
      });
    }

    /**
     * Nobody owns the stream: ask the node holding its partition to start an owner and hand it the
     * request; its answer is the owner's.
     */
    @SuppressWarnings("unchecked")
    void activate(int current) {
      String node;
      boolean live;
      try {
        node = cluster.ownerNodeOf(stream);
        live = node != null && cluster.memberNodeIds().contains(node);
      } catch (RuntimeException e) {
        // Hazelcast is shutting down under this node: nothing can be routed from here any more.
        promise.tryFail(new RouteException(RouteException.Kind.UNAVAILABLE, "this node is leaving the cluster"));
        return;
      }
      step("activate on " + node);
      if (!live) {
        // The partition table still names a member that left: its backup is being promoted.
        retry(backoff(tries), "partition of " + stream + " has no live owner yet", true);
        return;
      }
      ask(Addresses.control(node), node, new Activate(stream, request), false, attemptTimeout() * 2, current, act -> {
            if (act.failed() && act.cause() instanceof ReplyException re && re.failureType() == ReplyFailure.NO_HANDLERS
                && !node.equals(cluster.localNodeId())) {
              // The partition's member has joined but does not serve yet: own the stream here meanwhile.
              activateHere(current);
            } else if (act.failed()) {
              activationFailed(act.cause());
            } else if (act.result().body() instanceof StreamReply reply && reply.outcome() == Outcome.MOVED) {
              if (Activate.LEAVING.equals(reply.detail()) && !node.equals(cluster.localNodeId())) {
                // The partition's node is shutting down: own the stream here until its partition has moved.
                activateHere(current);
              } else {
                retry(backoff(tries), "activation moved", true);
              }
            } else {
              promise.tryComplete((T) act.result().body());
            }
          });
    }

    /**
     * An activation request failed. The node it went to relays the request to the owner once the owner is
     * up, so a request that timed out may still be applied: only a retriable one is sent again.
     */
    void activationFailed(Throwable cause) {
      if (cause instanceof ReplyException re && re.failureType() == ReplyFailure.TIMEOUT && !discarded(cause)) {
        timeouts++;
        onTimeout.run();
      }
      if (cause instanceof ReplyException re && re.failureType() == ReplyFailure.RECIPIENT_FAILURE) {
        promise.tryFail(recipientFailure(re));
      } else if (cause instanceof ReplyException re && re.failureType() == ReplyFailure.TIMEOUT && !request.retriable()
          && !discarded(cause)) {
        promise.tryFail(new RouteException(RouteException.Kind.OUTCOME_UNKNOWN,
            "the node activating the stream's owner did not answer in time; the request may or may not have been applied"));
      } else {
        retry(backoff(tries), String.valueOf(cause.getMessage()));
      }
    }

    /**
     * Sends {@code body} to {@code address} as attempt {@code current}; {@code onAnswer} gets its answer,
     * or a {@code TIMEOUT} failure after {@code patience}, unless a later attempt has started by then. A
     * request that is not retriable waits no longer than that (its expiry goes with it, so that nobody
     * applies it after its sender gave up). A retriable one stays open until the route deadline: the call
     * moves on after {@code patience}, and an answer that comes later still counts ({@link #lateAnswer}).
     * {@code node} is the member the address belongs to, or {@code null} for the stream's own address.
     */
    void ask(String address, String node, WireMessage body, boolean localOnly, long patience, int current,
             Handler<AsyncResult<Message<WireMessage>>> onAnswer) {
      target = node;
      long remaining = Math.max(1, deadline - System.currentTimeMillis());
      boolean open = request.retriable() && patience < remaining;
      long epoch = membershipEpoch.get();
      long sendTimeout = open ? remaining : Math.min(patience, remaining);
      Future<Message<WireMessage>> answer;
      long timer;
      LocalOwners owners = localOwners;
      LocalRequest local = owners == null || localOnly || !address.equals(Addresses.stream(stream)) ? null
          : new LocalRequest(address, body, System.currentTimeMillis() + sendTimeout, context);
      if (local != null && owners.deliver(stream, local)) {
        target = localNode();
        // The owner is on this node: no event bus, and a request handed to a live owner here is not lost
        // on the way, so one timer covers both cases below.
        answer = local.answer();
        timer = vertx.setTimer(open ? patience : sendTimeout, t -> {
          if (!open) {
            local.timeOut(sendTimeout);
            return;
          }
          // An answer that comes before the deadline still counts (lateAnswer); after it, nobody waits.
          vertx.setTimer(Math.max(1, sendTimeout - patience), t2 -> local.timeOut(sendTimeout));
          patienceOver(address, patience, current, epoch, onAnswer);
        });
      } else {
        if (node == null) {
          target = partitionNode();
        }
        DeliveryOptions options = Expiry.options(sendTimeout).setLocalOnly(localOnly);
        timer = !open ? -1 : vertx.setTimer(patience, t -> patienceOver(address, patience, current, epoch, onAnswer));
        answer = eventBus.request(address, body, options);
      }
      answer.onComplete(ar -> {
        if (timer >= 0) {
          vertx.cancelTimer(timer);
        }
        if (promise.future().isComplete()) {
          return;
        }
        if (current != attempt) {
          lateAnswer(ar.succeeded() ? ar.result().body() : null);
          return;
        }
        onAnswer.handle(ar);
      });
    }

    /**
     * Attempt {@code current} of a retriable request got no answer within {@code patience}. If no member
     * has left since it was sent, or the member it went to is still one, its owner is alive and merely behind:
     * a copy sent now would only queue behind the first on the same owner and double its work, which is
     * what kept a saturated cluster saturated. So the call keeps waiting for the first copy, and sends
     * again only as a last chance, one request timeout before the route deadline (a message lost on the
     * way to a live member is rare: a connection cut under it means its member is leaving). A member
     * leaving is handled apart, at once ({@link #memberLeft}).
     */
    void patienceOver(String address, long patience, int current, long epoch,
                      Handler<AsyncResult<Message<WireMessage>>> onAnswer) {
      if (current != attempt || promise.future().isComplete()) {
        return;
      }
      long now = System.currentTimeMillis();
      long lastChance = deadline - requestTimeoutMillis;
      if (now < lastChance && !waited && (epoch == membershipEpoch.get() || targetIsMember())) {
        waited = true;
        onTimeout.run();
        step("no answer in " + patience + "ms from a live member, waiting");
        vertx.setTimer(lastChance - now, t -> {
          if (current == attempt && !promise.future().isComplete()) {
            step("last chance");
            onAnswer.handle(Future.failedFuture(new ReplyException(ReplyFailure.TIMEOUT,
                "no answer from " + address + " within " + (System.currentTimeMillis() - now + patience) + " ms")));
          }
        });
        return;
      }
      onAnswer.handle(Future.failedFuture(new ReplyException(ReplyFailure.TIMEOUT,
          "no answer from " + address + " within " + patience + " ms")));
    }

    boolean targetIsMember() {
      String node = target;
      try {
        return node != null && cluster.memberNodeIds().contains(node);
      } catch (RuntimeException e) {
        return false;
      }
    }

    /** The member holding the stream's primary partition, or {@code null} (unassigned, or leaving). */
    String partitionNode() {
      try {
        return cluster.ownerNodeOf(stream);
      } catch (RuntimeException e) {
        return null;
      }
    }

    /** The request timeout, doubled for each attempt that timed out before (at most 8 times). */
    long attemptTimeout() {
      return requestTimeoutMillis << Math.min(timeouts, 3);
    }

    /**
     * The answer of an attempt the router had already given up on (it timed out and was sent again). For a
     * retriable request a success is as good as the next attempt's, so it completes the call; a refusal
     * ({@code MOVED}, no quorum...) or a failure is left to the attempt under way, which may do better.
     */
    @SuppressWarnings("unchecked")
    void lateAnswer(WireMessage body) {
      if (body == null || !request.retriable() || (body instanceof StreamReply reply && !reply.isSuccess())) {
        return;
      }
      step("late answer of an earlier attempt");
      promise.tryComplete((T) body);
    }

    void step(String what) {
      steps.append('+').append(System.currentTimeMillis() - started).append("ms ").append(what).append("; ");
    }

    @SuppressWarnings("unchecked")
    void activateHere(int current) {
      step("activate here");
      String here = localNode();
      ask(Addresses.control(here), here, new Activate(stream, request, true), true, attemptTimeout() * 2,
          current, act -> {
            if (act.failed()) {
              activationFailed(act.cause());
            } else if (act.result().body() instanceof StreamReply reply && reply.outcome() == Outcome.MOVED) {
              retry(backoff(tries), "local activation refused", true);
            } else {
              promise.tryComplete((T) act.result().body());
            }
          });
    }

    /** Abandons the current attempt (its answer, if any, is ignored) and asks the partition owner. */
    void resendThroughPartitionOwner() {
      if (!promise.future().isComplete()) {
        step("member left, resend via partition owner");
        tries++;
        activate(++attempt);
      }
    }

    void retry(long delayMillis, String why) {
      retry(delayMillis, why, false);
    }

    void retry(long delayMillis, String why, boolean throughPartitionOwner) {
      long now = System.currentTimeMillis();
      if (now >= deadline) {
        promise.tryFail(new RouteException(RouteException.Kind.UNAVAILABLE,
            "no owner for the stream answered within the route deadline (" + why + ")"));
        return;
      }
      tries++;
      step("retry in " + delayMillis + "ms: " + why);
      if (tries > 3) {
        log.debug("retrying {} on {} after {} ms: {}", request.getClass().getSimpleName(), stream, delayMillis, why);
      }
      Runnable next = throughPartitionOwner ? () -> activate(++attempt) : this::send;
      if (delayMillis <= 0) {
        next.run();
      } else {
        int current = attempt;
        vertx.setTimer(Math.min(delayMillis, Math.max(1, deadline - now)), t -> {
          if (current == attempt && !promise.future().isComplete()) {
            next.run();
          }
        });
      }
    }
  }

  /**
   * Whether a request failed because the consumer it was queued in unregistered before reading it (an
   * owner stepping down): Vert.x then answers at once with a {@code TIMEOUT} failure whose message says
   * so, unlike a real timeout, which the sender's own timer raises. Such a request was never applied.
   * {@code DiscardedRequestTest} pins this on the Vert.x version in use.
   */
  public static boolean discarded(Throwable failure) {
    return failure instanceof ReplyException re && re.failureType() == ReplyFailure.TIMEOUT
        && re.getMessage() != null && re.getMessage().startsWith("Discarded the request");
  }

  /** A handler failed the request: an owner whose outcome is unknown, or an internal error. */
  private static RouteException recipientFailure(ReplyException failure) {
    if (failure.failureCode() == OUTCOME_UNKNOWN_CODE) {
      // The recipient's reason (a backup that did not confirm, a member that left) names members and
      // addresses: it is in the owner's log, not in an answer to a client.
      return new RouteException(RouteException.Kind.OUTCOME_UNKNOWN,
          "the stream's owner could not confirm the write; it may or may not have been applied");
    }
    if (failure.failureCode() == UNAVAILABLE_CODE) {
      return new RouteException(RouteException.Kind.UNAVAILABLE, "the stream owner could not serve this now: " + failure.getMessage());
    }
    return new RouteException(RouteException.Kind.INTERNAL, failure.getMessage());
  }

  private static long backoff(int tries) {
    return Math.min(MAX_BACKOFF_MILLIS, 5L << Math.min(tries, 6));
  }

  /** A request that could not be completed; the transport maps {@link Kind} to a status. */
  public static final class RouteException extends RuntimeException {
    /** Why routing failed. */
    public enum Kind {
      /** No owner answered before the deadline (503, retry). */
      UNAVAILABLE,
      /** A non-idempotent request timed out: it may have been applied (503; use idempotent producers). */
      OUTCOME_UNKNOWN,
      /** The stream does not exist. */
      NOT_FOUND,
      /** This node, or the stream's owner, is not on the majority side of the cluster (503, retry elsewhere). */
      NO_QUORUM,
      /** Every copy of the stream's partition is on members this side lost; it may exist (503, retry). */
      PARTITION_LOST,
      /** The owner failed while handling the request (500). */
      INTERNAL
    }

    private final Kind kind;

    public RouteException(Kind kind, String message) {
      super(message, null, false, false);
      this.kind = kind;
    }

    public Kind kind() {
      return kind;
    }
  }
}
