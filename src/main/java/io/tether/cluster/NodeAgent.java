package io.tether.cluster;

import io.tether.cluster.live.LivePush;
import io.tether.cluster.live.LiveSubscription;
import io.tether.cluster.owner.StreamOwner;
import io.tether.cluster.routing.Activate;
import io.tether.cluster.routing.Addresses;
import io.tether.cluster.routing.Expiry;
import io.tether.cluster.routing.StreamRequest;
import io.tether.cluster.routing.StreamRouter;
import io.tether.stream.Outcome;
import io.tether.stream.StreamProcessors;
import io.tether.stream.StreamReply;
import io.tether.wire.WireMessage;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The per-node side of the cluster layer:
 * <ul>
 *   <li>its control address activates owners for streams whose primary partition this node holds;</li>
 *   <li>its live address receives owners' pushes and hands each to the subscriptions it names;</li>
 *   <li>when a member leaves, local owners drop that member's subscriptions and local subscriptions
 *       whose owner was there subscribe again (reaching the new owner);</li>
 *   <li>every {@value #SWEEP_MILLIS} ms it removes streams past their TTL or Expires-At from its own
 *       partitions (every processor checks expiry too, so an expired stream answers 404 at once; the
 *       sweep frees its memory and ends its live readers).</li>
 * </ul>
 */
public final class NodeAgent extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(NodeAgent.class);
  /** A map query over every partition of this member: about 3 % of a node's CPU when run every second. */
  static final long SWEEP_MILLIS = 5000;

  private final StreamServices services;
  private final Map<String, Future<Void>> activations = new ConcurrentHashMap<>();
  private final Set<String> knownMembers = ConcurrentHashMap.newKeySet();
  /** Attempts at registering one of this node's addresses ({@link ClusteredConsumers}). */
  private static final int REGISTER_ATTEMPTS = 3;
  private MessageConsumer<WireMessage> control;
  private MessageConsumer<WireMessage> live;
  private MessageConsumer<String> leavingNotices;
  private UUID membershipListener;
  private UUID migrationListener;
  private long sweepTimer = -1;
  private long ownerSweepTimer = -1;
  private BlockingCheck expiryScan;
  private volatile boolean leaving;

  public NodeAgent(StreamServices services) {
    this.services = services;
  }

  @Override
  public Future<?> start() {
    knownMembers.addAll(services.cluster().memberNodeIds());
    membershipListener = services.cluster().onMemberLeft(this::memberLeft);
    migrationListener = services.cluster().onPrimaryMovedAway(this::partitionMovedAway);
    EventBus bus = vertx.eventBus();
    Future<MessageConsumer<WireMessage>> controlUp = ClusteredConsumers
        .register(bus, Addresses.control(services.nodeId()), this::onControl, REGISTER_ATTEMPTS)
        .onSuccess(c -> control = c);
    Future<MessageConsumer<WireMessage>> liveUp = ClusteredConsumers
        .register(bus, Addresses.live(services.nodeId()), this::onLive, REGISTER_ATTEMPTS)
        .onSuccess(c -> live = c);
    Future<MessageConsumer<String>> leavingUp = ClusteredConsumers.<String>register(bus, Addresses.LEAVING, notice -> {
      if (!services.nodeId().equals(notice.body())) {
        // Requests in flight to that node may have reached an address it no longer handles.
        services.router().memberLeft(notice.body());
      }
    }, REGISTER_ATTEMPTS).onSuccess(c -> leavingNotices = c);
    expiryScan = new BlockingCheck(context);
    sweepTimer = vertx.setPeriodic(SWEEP_MILLIS, t -> sweep());
    long ownerSweep = ownerSweepMillis(services.config());
    ownerSweepTimer = vertx.setPeriodic(ownerSweep, ownerSweep, t -> services.owners().sweep(System.currentTimeMillis()));
    return Future.all(controlUp, liveUp, leavingUp);
  }

  private static Future<Void> unregister(MessageConsumer<?> consumer) {
    return consumer == null ? Future.succeededFuture() : consumer.unregister();
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(sweepTimer);
    vertx.cancelTimer(ownerSweepTimer);
    try {
      if (membershipListener != null) {
        services.cluster().hazelcast().getCluster().removeMembershipListener(membershipListener);
      }
      if (migrationListener != null) {
        services.cluster().hazelcast().getPartitionService().removeMigrationListener(migrationListener);
      }
    } catch (RuntimeException e) {
      log.debug("cluster listeners not removed: {}", e.getMessage());
    }
    return Future.all(unregister(control), unregister(live), unregister(leavingNotices))
        .recover(e -> Future.succeededFuture());
  }

  // ----------------------------------------------------------------------------------- activation

  /**
   * Opens this node's event-bus connections to every other member, and theirs back (the answer travels
   * on a connection from the peer to this node). Connections are otherwise opened by the first request
   * that needs them; over TLS, with a cold JVM, that first handshake took 1-2 s here, longer than a
   * request may wait. A node runs this before it reports ready; members already running need nothing,
   * since the newcomer's request opens both directions. Completes when every peer answered or
   * {@code timeoutMillis} passed (a peer that does not answer is left to the router's retries).
   */
  public Future<Void> reachPeers(long timeoutMillis) {
    java.util.List<Future<?>> pings = new java.util.ArrayList<>();
    for (String node : services.cluster().memberNodeIds()) {
      if (!node.equals(services.nodeId())) {
        pings.add(vertx.eventBus().request(Addresses.control(node), PING,
                new DeliveryOptions().setSendTimeout(timeoutMillis))
            .onFailure(e -> {
              // A member still starting has no control address yet; it reaches this node itself.
              boolean starting = e instanceof io.vertx.core.eventbus.ReplyException re
                  && re.failureType() == io.vertx.core.eventbus.ReplyFailure.NO_HANDLERS;
              if (starting) {
                log.debug("member {} is still starting: {}", node, e.getMessage());
              } else {
                log.warn("member {} did not answer on the event bus: {}", node, e.getMessage());
              }
            }));
      }
    }
    return Future.join(pings).<Void>mapEmpty().recover(e -> Future.succeededFuture());
  }

  /** The body of {@link #reachPeers}'s requests, answered by {@link #onControl} with itself. */
  static final String PING = "ping";

  private void onControl(Message<WireMessage> message) {
    if (PING.equals((Object) message.body())) {
      ((Message<Object>) (Message<?>) message).reply(PING);
      return;
    }
    if (!(message.body() instanceof Activate activate)) {
      message.fail(400, "unknown control message");
      return;
    }
    String stream = activate.stream();
    if (Expiry.expired(message)) {
      // Held up in the network past the time its sender waited (a healed partition): nobody wants it.
      log.debug("activation of {} arrived after its sender gave up: dropped", stream);
      message.fail(StreamRouter.OUTCOME_UNKNOWN_CODE, "the request arrived after its sender stopped waiting");
      return;
    }
    Future<Void> ready;
    if (services.owners().get(stream) != null) {
      ready = Future.succeededFuture();
    } else if (leaving) {
      // This node is handing its partitions over: the sender starts the owner elsewhere meanwhile.
      message.reply(StreamReply.of(Outcome.MOVED).detail(Activate.LEAVING).build());
      return;
    } else if (!activate.anywhere() && !services.cluster().isLocalOwner(stream)) {
      // The partition moved since the sender looked: it will look again.
      message.reply(StreamReply.of(Outcome.MOVED).build());
      return;
    } else {
      ready = activate(stream, activate.create());
    }
    ready.onComplete(ar -> {
      if (ar.failed()) {
        if (ar.cause() instanceof StreamOwner.NotFound) {
          message.reply(StreamReply.refusal(Outcome.NOT_FOUND, "stream not found"));
        } else if (ar.cause() instanceof StreamOwner.Refused refused) {
          // This member may not serve the stream now (minority side, just woke from a pause, no backup).
          message.reply(refused.reply);
        } else {
          // The request was not handed to any owner: the sender may try again (a partition in migration
          // makes a claim fail for a moment).
          log.debug("activation of {} failed: {}", stream, ar.cause().getMessage());
          message.reply(StreamReply.of(Outcome.MOVED).detail("activation failed: " + ar.cause().getMessage()).build());
        }
        return;
      }
      // Hand the request to the owner on this node and relay its answer.
      vertx.eventBus().<WireMessage>request(Addresses.stream(stream), activate.request(),
              Expiry.relay(message, services.config().requestTimeoutMillis()).setLocalOnly(true))
          .onComplete(reply -> {
            if (reply.succeeded()) {
              message.reply(reply.result().body());
            } else if (reply.cause() instanceof io.vertx.core.eventbus.ReplyException re
                && re.failureType() == io.vertx.core.eventbus.ReplyFailure.RECIPIENT_FAILURE) {
              // The owner answered with a failure: the sender gets it as the owner gave it.
              message.fail(re.failureCode(), re.getMessage());
            } else if (maybeApplied(reply.cause()) && !activate.request().retriable()
                && !StreamRouter.discarded(reply.cause())) {
              // The owner had the request and did not answer in time: it may have applied it. Sending it
              // again could apply it twice; the client is told that it cannot know.
              message.fail(StreamRouter.OUTCOME_UNKNOWN_CODE, "the stream owner did not answer in time");
            } else {
              message.reply(StreamReply.of(Outcome.MOVED).detail(reply.cause().getMessage()).build());
            }
          });
    });
  }

  /** Whether a failed local request may have reached a handler (it timed out rather than found none). */
  private static boolean maybeApplied(Throwable failure) {
    return !(failure instanceof io.vertx.core.eventbus.ReplyException re
        && re.failureType() == io.vertx.core.eventbus.ReplyFailure.NO_HANDLERS);
  }

  /** Starts the owner of {@code stream} on this node unless one is running or starting. */
  public Future<Void> activate(String stream, boolean create) {
    Promise<Void> promise = Promise.promise();
    Future<Void> running = activations.putIfAbsent(stream, promise.future());
    if (running != null) {
      // A concurrent activation may have been for a read of an absent stream; a create must retry then.
      return create ? running.recover(e -> activate(stream, true)) : running;
    }
    if (services.owners().get(stream) != null) {
      activations.remove(stream);
      return Future.succeededFuture();
    }
    vertx.deployVerticle(new StreamOwner(stream, create, services)).<Void>mapEmpty()
        .onComplete(ar -> {
          activations.remove(stream);
          promise.handle(ar);
        });
    return promise.future();
  }

  /**
   * This node is shutting down: it takes no new owners (requests wait until the stream's partition has
   * moved to another member, which then activates one).
   */
  public void leave() {
    leaving = true;
  }

  /** Tells the other nodes that this one stopped answering, so they resend what they had in flight here. */
  public void announceLeaving() {
    vertx.eventBus().publish(Addresses.LEAVING, services.nodeId());
  }

  /** Retires the owners of a partition whose primary copy moved to another member. */
  private void partitionMovedAway(int partition) {
    for (StreamOwner owner : services.owners().inPartition(partition)) {
      owner.retireAsync("its partition moved to another member");
    }
  }

  /**
   * How often active owners get their upkeep (lease expiry, presence, passivation): a quarter of the idle
   * time, between 250 ms and 5 s, so an owner passivates within 1.25 times the idle time; 5 s when owners
   * never passivate (leases lapse after three lease intervals, 60 s by default).
   */
  static long ownerSweepMillis(io.tether.config.TetherConfig config) {
    long idle = config.ownerIdleSeconds() * 1000L;
    return idle <= 0 ? 5_000 : Math.max(250, Math.min(5_000, idle / 4));
  }

  // ----------------------------------------------------------------------------------- live pushes

  private void onLive(Message<WireMessage> message) {
    if (!(message.body() instanceof LivePush push)) {
      return;
    }
    for (long id : push.subscriptions()) {
      LiveSubscription subscription = services.live().get(id);
      if (subscription != null) {
        subscription.onPush(push);
      }
    }
  }

  // ----------------------------------------------------------------------------------- membership

  private void memberLeft(String nodeId) {
    if (nodeId == null) {
      return;
    }
    knownMembers.remove(nodeId);
    log.info("member {} left; {} members remain", nodeId, services.cluster().memberCount());
    services.router().memberLeft(nodeId);
    for (StreamOwner owner : services.owners().all()) {
      owner.nodeLeft(nodeId);
    }
    for (LiveSubscription subscription : services.live().all()) {
      subscription.nodeLeft(nodeId);
    }
  }

  // ----------------------------------------------------------------------------------- expiry

  private void sweep() {
    long now = System.currentTimeMillis();
    expiryScan.run(() -> services.store().localExpired(now), ar -> {
      if (ar.failed()) {
        log.debug("expiry sweep failed: {}", ar.cause().getMessage());
        return;
      }
      for (String stream : ar.result()) {
        services.store().execute(stream, new StreamProcessors.Expire(now), context).onSuccess(reply -> {
          if (reply.outcome() != Outcome.DELETED) {
            return;
          }
          log.debug("stream {} expired", stream);
          services.router().notify(stream, new StreamRequest.Expired());
          if (reply.releaseSource() != null) {
            services.router().request(reply.releaseSource(), new StreamRequest.ReleaseFork())
                .onFailure(e -> log.warn("could not release fork reference of expired {}: {}", stream, e.getMessage()));
          }
        });
      }
    });
  }
}
