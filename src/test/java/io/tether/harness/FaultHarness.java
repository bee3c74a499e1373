package io.tether.harness;

import io.tether.harness.History.Outcome;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The fault-injection harness: rounds of concurrent work against a cluster of real processes started by
 * {@code scripts/cluster.sh}, one fault per round, and a history check at the end of each round (see
 * {@link History}). Run through {@code scripts/faults.sh}, which builds the jar, starts the cluster
 * and tears it down.
 *
 * <p>Each round creates fresh streams and runs, on random nodes: idempotent producers with five requests
 * in flight that retry every unanswered request with the same sequence number; plain appenders; a
 * session whose turns the simulated model answers; and readers that follow every stream over SSE,
 * long-poll and WebSocket in turn, disconnecting every few seconds and resuming from their last offset
 * on another node; and an idempotent producer with no reader that pauses longer than the nodes' owner
 * idle time every few appends, so that its stream's owner passivates and comes back again and again,
 * faults included. After three seconds the round's fault hits the owner of one of the streams; the
 * work goes on through it and for a few seconds after the cluster is whole again.
 */
public final class FaultHarness {

  private static final List<String> ALL_FAULTS = List.of("kill", "stop", "term", "partition", "backup-stall",
      "upgrade");
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(6);

  private final int nodes;
  private final int basePort;
  private final String netnsPrefix;
  private final Path script;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private final Set<Integer> down = ConcurrentHashMap.newKeySet();
  private final Random random;
  /** Partition rounds so far (on 5 nodes, every other one cuts off the stream's owner with its backup). */
  private int partitionRounds;
  /** Whether the nodes run the wire-format variant with an added field (the "upgrade" fault flips it). */
  private boolean wireExtension;
  /** The nodes' TETHER_OWNER_IDLE_SECONDS: the sporadic producer pauses longer than this. */
  private final int ownerIdleSeconds;

  private FaultHarness(int nodes, int basePort, String netnsPrefix, Path script, long seed, int ownerIdleSeconds) {
    this.ownerIdleSeconds = ownerIdleSeconds;
    this.nodes = nodes;
    this.basePort = basePort;
    this.netnsPrefix = netnsPrefix;
    this.script = script;
    this.random = new Random(seed);
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = new LinkedHashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      opts.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    }
    int nodes = Integer.parseInt(opts.getOrDefault("nodes", "3"));
    int rounds = Integer.parseInt(opts.getOrDefault("rounds", "1"));
    List<String> faults = List.of(opts.getOrDefault("faults", String.join(",", ALL_FAULTS)).split(","));
    for (String fault : faults) {
      if (!ALL_FAULTS.contains(fault)) {
        throw new IllegalArgumentException("unknown fault " + fault + "; known: " + ALL_FAULTS);
      }
    }
    long seed = Long.parseLong(opts.getOrDefault("seed", Long.toString(System.currentTimeMillis())));
    String netns = opts.getOrDefault("netns", "");
    FaultHarness harness = new FaultHarness(nodes, Integer.parseInt(opts.getOrDefault("base-port", "25080")),
        netns, Path.of(opts.getOrDefault("script", "scripts/cluster.sh")), seed,
        Integer.parseInt(opts.getOrDefault("owner-idle-seconds", "0")));
    Path report = Path.of(opts.getOrDefault("report", "target/faults/report.md"));
    boolean clean;
    try {
      clean = harness.run(rounds, faults, seed, report);
    } catch (Exception | Error e) {
      // Readers and writers of the round run on pool threads that would keep the JVM (and the script's
      // nodes, which it stops only when this process ends) alive: report and end here.
      System.err.println("fault harness stopped in a round: " + e);
      e.printStackTrace();
      System.exit(2);
      return;
    }
    System.exit(clean ? 0 : 1);
  }

  // ------------------------------------------------------------------------------------------ rounds

  private boolean run(int rounds, List<String> faults, long seed, Path report) throws Exception {
    Map<String, History.Verdict> byFault = new LinkedHashMap<>();
    Map<String, Integer> roundsByFault = new LinkedHashMap<>();
    List<String> problems = new ArrayList<>();
    int total = rounds * faults.size();
    long started = System.nanoTime();
    awaitHealthy(Duration.ofSeconds(120));
    for (int r = 1; r <= total; r++) {
      String fault = faults.get((r - 1) % faults.size());
      long t0 = System.nanoTime();
      History history = new History();
      String what = new Round(r, fault, history).run();
      History.Verdict v = history.check();
      byFault.computeIfAbsent(fault, f -> new History.Verdict()).add(v);
      roundsByFault.merge(fault, 1, Integer::sum);
      System.out.printf(Locale.ROOT, "round %d/%d %-12s %-28s acked %5d unknown %3d refused %4d | lost %d dup %d "
              + "refused-stored %d forks %d divergent %d/%d turns %d (twice %d, never %d) %s(%d s)%n",
          r, total, fault, what, v.acknowledged, v.unknown, v.refused, v.lost, v.duplicated, v.refusedButStored,
          v.producerForks, v.divergentReads, v.readers, v.turns, v.turnsEndedTwice, v.turnsNeverEnded,
          v.clean() ? "" : "VIOLATION ", TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0));
      if (!v.clean()) {
        for (String note : history.notes()) {
          problems.add("round " + r + " (" + fault + "): " + note);
          System.out.println("  " + note);
        }
      }
    }
    String table = table(byFault, roundsByFault, seed, TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started));
    System.out.println();
    System.out.println(table);
    Files.createDirectories(report.toAbsolutePath().getParent());
    StringBuilder out = new StringBuilder(table);
    if (!problems.isEmpty()) {
      out.append("\nViolations:\n");
      problems.forEach(p -> out.append("- ").append(p).append('\n'));
    }
    Files.writeString(report, out.toString());
    return byFault.values().stream().allMatch(History.Verdict::clean);
  }

  private String table(Map<String, History.Verdict> byFault, Map<String, Integer> rounds, long seed, long seconds) {
    StringBuilder t = new StringBuilder();
    t.append(String.format(Locale.ROOT, "%d nodes, seed %d, %d s%n%n", nodes, seed, seconds));
    t.append("| fault | rounds | appends acknowledged | unknown outcome | refused | lost | duplicated | refused but stored "
        + "| producer forks | divergent reads (of readers) | turns | turns ended twice | turns never ended |\n");
    t.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    History.Verdict all = new History.Verdict();
    for (Map.Entry<String, History.Verdict> e : byFault.entrySet()) {
      row(t, e.getKey(), rounds.get(e.getKey()), e.getValue());
      all.add(e.getValue());
    }
    row(t, "**total**", rounds.values().stream().mapToInt(Integer::intValue).sum(), all);
    return t.toString();
  }

  private static void row(StringBuilder t, String name, int rounds, History.Verdict v) {
    t.append(String.format(Locale.ROOT, "| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d (%d) | %d | %d | %d |%n",
        name, rounds, v.acknowledged, v.unknown, v.refused, v.lost, v.duplicated, v.refusedButStored,
        v.producerForks, v.divergentReads, v.readers, v.turns, v.turnsEndedTwice, v.turnsNeverEnded));
  }

  /** One round: fresh streams, the workload, one fault, recovery, and the final reads. */
  private final class Round {
    private final int number;
    private final String fault;
    private final History history;
    private final String prefix;
    private final AtomicBoolean writing = new AtomicBoolean(true);
    private final AtomicBoolean reading = new AtomicBoolean(true);
    private final ExecutorService pool = Executors.newCachedThreadPool();
    private final List<Reader> readers = new ArrayList<>();

    Round(int number, String fault, History history) {
      this.number = number;
      this.fault = fault;
      this.history = history;
      this.prefix = "h" + Long.toHexString(System.currentTimeMillis()) + "-r" + number;
    }

    String run() throws Exception {
      List<String> produced = List.of(prefix + "-p0", prefix + "-p1", prefix + "-p2");
      List<String> plain = List.of(prefix + "-a0", prefix + "-a1");
      List<String> all = new ArrayList<>(produced);
      all.addAll(plain);
      for (String stream : all) {
        create(stream);
      }
      List<CompletableFuture<?>> writers = new ArrayList<>();
      for (String stream : produced) {
        history.producedBy(stream);
        AtomicLong next = new AtomicLong();
        for (int lane = 0; lane < 5; lane++) {
          writers.add(CompletableFuture.runAsync(() -> produce(stream, next), pool));
        }
      }
      for (String stream : plain) {
        writers.add(CompletableFuture.runAsync(() -> appendPlain(stream), pool));
      }
      String sporadic = prefix + "-s0";
      if (ownerIdleSeconds > 0) {
        create(sporadic);
        history.producedBy(sporadic);
        AtomicLong next = new AtomicLong();
        writers.add(CompletableFuture.runAsync(() -> produceSporadically(sporadic, next), pool));
      }
      Session session = new Session();
      CompletableFuture<?> turns = CompletableFuture.runAsync(session::run, pool);
      for (String stream : all) {
        for (int i = 0; i < 2; i++) {
          Reader reader = new Reader(stream, i);
          readers.add(reader);
          pool.submit(reader::run);
        }
      }
      Thread.sleep(3_000);
      String what = inject(fault, produced.get(0));
      awaitHealthy(Duration.ofSeconds(150));
      Thread.sleep(4_000);
      writing.set(false);
      CompletableFuture.allOf(writers.toArray(CompletableFuture[]::new)).get(90, TimeUnit.SECONDS);
      turns.get(120, TimeUnit.SECONDS);
      for (String stream : all) {
        history.finalContent(stream, readAll(stream));
      }
      if (ownerIdleSeconds > 0) {
        history.finalContent(sporadic, readAll(sporadic));
      }
      // Readers catch up to the final content (or as far as they get in the time), then stop.
      long deadline = System.currentTimeMillis() + 20_000;
      for (Reader reader : readers) {
        while (System.currentTimeMillis() < deadline && !reader.caughtUp()) {
          Thread.sleep(100);
        }
      }
      reading.set(false);
      pool.shutdownNow();
      pool.awaitTermination(10, TimeUnit.SECONDS);
      // What the readers saw is checked against the content read now, after they stopped: an append whose
      // writer was told "outcome unknown" may still have landed after the first final read.
      for (String stream : all) {
        history.laterContent(stream, readAll(stream));
      }
      if (ownerIdleSeconds > 0) {
        history.laterContent(sporadic, readAll(sporadic));
      }
      for (Reader reader : readers) {
        String delivered = reader.delivered();
        history.reader(reader.stream, delivered);
        String content = history.finalOf(reader.stream);
        if (content != null && !content.startsWith(delivered)) {
          int at = 0;
          while (at < delivered.length() && at < content.length() && delivered.charAt(at) == content.charAt(at)) {
            at++;
          }
          for (String entry : reader.traceAround(at)) {
            history.note("  reader " + reader.stream + "#" + reader.id + " commit at char " + entry);
          }
        }
        if (!reader.caughtUp()) {
          history.note("reader " + reader.stream + "#" + reader.id + " did not catch up");
        }
      }
      session.check();
      return what;
    }

    private void create(String stream) throws InterruptedException {
      long deadline = System.currentTimeMillis() + 60_000;
      while (System.currentTimeMillis() < deadline) {
        Resp r = send("PUT", anyNode(), "/v1/stream/" + stream, Map.of("Content-Type", "text/plain"), "");
        if (r != null && (r.status == 201 || r.status == 200)) {
          return;
        }
        Thread.sleep(200);
      }
      throw new IllegalStateException("could not create " + stream);
    }

    // -------------------------------------------------------------------------------- writers

    /** One lane of an idempotent producer: takes the next sequence number and retries it until answered. */
    private void produce(String stream, AtomicLong next) {
      while (writing.get()) {
        produceOne(stream, next);
      }
    }

    /** Takes the next sequence number and sends it until it is answered (or given up on). */
    private void produceOne(String stream, AtomicLong next) {
      long seq = next.getAndIncrement();
      String token = "P" + seq;
      long deadline = Long.MAX_VALUE;
      while (true) {
        if (!writing.get() && deadline == Long.MAX_VALUE) {
          // Stopped: an unanswered request keeps being retried for a while, as a client would.
          deadline = System.currentTimeMillis() + 60_000;
        }
        if (System.currentTimeMillis() > deadline) {
          history.append(stream, token, Outcome.UNKNOWN);
          break;
        }
        Resp r = send("POST", anyNode(), "/v1/stream/" + stream, Map.of("Content-Type", "text/plain",
            "Producer-Id", "writer", "Producer-Epoch", "0", "Producer-Seq", Long.toString(seq)), token + ";");
        if (r != null && (r.status == 200 || r.status == 204)) {
          history.append(stream, token, Outcome.ACKNOWLEDGED);
          break;
        }
        if (r != null && r.status == 409 && r.header("Producer-Expected-Seq") != null) {
          // An earlier sequence number has not landed yet (requests overtake each other): wait for it.
          pause(20);
          continue;
        }
        if (r != null && r.status >= 400 && r.status < 500) {
          history.append(stream, token, Outcome.REFUSED);
          history.note("producer " + stream + " " + token + " refused: " + r.status + " " + r.body);
          break;
        }
        // 5xx or no answer: the same sequence number again, maybe through another node.
        pause(100);
      }
    }

    /**
     * A producer with one request in flight that stops for longer than the owner idle time after every
     * few appends: no reader keeps the stream's owner up, so it passivates in each pause and the next
     * append activates a new one.
     */
    private void produceSporadically(String stream, AtomicLong next) {
      Random pauses = new Random(random.nextLong());
      while (writing.get()) {
        for (int i = 0; i < 5 && writing.get(); i++) {
          produceOne(stream, next);
        }
        pause(ownerIdleSeconds * 1000L + 500 + pauses.nextInt(1500));
      }
    }

    private void appendPlain(String stream) {
      long n = 0;
      while (writing.get()) {
        String token = "A" + n++;
        Resp r = send("POST", anyNode(), "/v1/stream/" + stream, Map.of("Content-Type", "text/plain"), token + ";");
        if (r == null || (r.status == 503 && "outcome_unknown".equals(r.errorCode()))) {
          history.append(stream, token, Outcome.UNKNOWN);
        } else if (r.status / 100 == 2) {
          history.append(stream, token, Outcome.ACKNOWLEDGED);
        } else {
          history.append(stream, token, Outcome.REFUSED);
        }
        pause(30);
      }
    }

    // -------------------------------------------------------------------------------- session

    /** A session whose turns run one after the other; each accepted turn must end exactly once. */
    private final class Session {
      String id;
      String token;
      final List<String> acceptedMessages = new ArrayList<>();

      void run() {
        Resp created = null;
        for (int i = 0; i < 50 && (created == null || created.status != 201); i++) {
          created = send("POST", anyNode(), "/v1/sessions", Map.of("Content-Type", "application/json"), "{}");
          if (created == null || created.status != 201) {
            pause(200);
          }
        }
        if (created == null || created.status != 201) {
          history.note("could not create a session");
          return;
        }
        JsonObject body = new JsonObject(created.body);
        id = body.getString("sessionId");
        token = body.getString("token");
        int k = 0;
        while (writing.get()) {
          String messageId = prefix + "-m" + k++;
          Integer turn = null;
          long deadline = System.currentTimeMillis() + 90_000;
          while (turn == null && System.currentTimeMillis() < deadline) {
            Resp r = send("POST", anyNode(), "/v1/sessions/" + id + "/messages", Map.of("Content-Type",
                "application/json", "Authorization", "Bearer " + token),
                new JsonObject().put("text", "hello " + k).put("messageId", messageId).encode());
            if (r != null && r.status == 200) {
              turn = new JsonObject(r.body).getInteger("turn");
            } else {
              pause(r != null && r.status == 409 ? 300 : 150);
            }
          }
          if (turn == null) {
            history.note("message " + messageId + " never accepted");
            return;
          }
          acceptedMessages.add(messageId);
          awaitTurnEnd(turn, System.currentTimeMillis() + 90_000);
        }
      }

      private void awaitTurnEnd(int turn, long deadline) {
        while (System.currentTimeMillis() < deadline) {
          JsonArray events = events();
          if (events != null && ends(events).getOrDefault(turn, 0) > 0) {
            return;
          }
          pause(300);
        }
      }

      JsonArray events() {
        try {
          String content = readAll("sessions/" + id, Map.of("Authorization", "Bearer " + token), true);
          return content == null ? null : new JsonArray(content);
        } catch (RuntimeException e) {
          return null;
        }
      }

      void check() {
        if (id == null) {
          return;
        }
        JsonArray events = events();
        if (events == null) {
          history.note("session " + id + " could not be read");
          history.turnAccepted(-1);
          return;
        }
        Map<Integer, Integer> ends = ends(events);
        Set<String> stored = ConcurrentHashMap.newKeySet();
        for (Object o : events) {
          JsonObject e = (JsonObject) o;
          if ("user.message".equals(e.getString("type"))) {
            stored.add(e.getString("messageId"));
            history.turnAccepted(e.getInteger("turn"));
          }
        }
        ends.forEach(history::turnEnds);
        for (String message : acceptedMessages) {
          if (!stored.contains(message)) {
            history.note("accepted message " + message + " is not in the session");
            history.turnAccepted(-2);
          }
        }
      }

      private Map<Integer, Integer> ends(JsonArray events) {
        Map<Integer, Integer> ends = new LinkedHashMap<>();
        for (Object o : events) {
          JsonObject e = (JsonObject) o;
          String type = e.getString("type");
          if ("generation.completed".equals(type) || "generation.stopped".equals(type)
              || "generation.failed".equals(type)) {
            ends.merge(e.getInteger("turn"), 1, Integer::sum);
          }
        }
        return ends;
      }
    }

    // -------------------------------------------------------------------------------- readers

    /** Follows a stream over SSE, long-poll and WebSocket in turn, resuming from its offset each time. */
    private final class Reader {
      final String stream;
      final int id;
      private final StringBuilder delivered = new StringBuilder();
      /** Each commit: where it starts in {@code delivered}, the transport and node, the offsets it spans. */
      private final ArrayDeque<String> trace = new ArrayDeque<>();
      private volatile String offset = "-1";
      private volatile String target;
      /** The WebSocket connection frames are taken from; a frame of an abandoned one is ignored. */
      private Object liveSocket;

      Reader(String stream, int id) {
        this.stream = stream;
        this.id = id;
      }

      synchronized String delivered() {
        return delivered.toString();
      }

      boolean caughtUp() {
        String t = target;
        return t != null && t.equals(delivered());
      }

      private synchronized void commit(String text, String next, String how) {
        trace.addLast(delivered.length() + " " + how + " " + offset + " -> " + next + " +" + text.length());
        if (trace.size() > 2_000) {
          trace.removeFirst();
        }
        delivered.append(text);
        offset = next;
      }

      /** The commits that wrote the characters around {@code at} of what this reader delivered. */
      synchronized List<String> traceAround(int at) {
        List<String> out = new ArrayList<>();
        for (String entry : trace) {
          int start = Integer.parseInt(entry.substring(0, entry.indexOf(' ')));
          if (start >= at - 60 && start <= at + 20) {
            out.add(entry);
          }
        }
        return out;
      }

      void run() {
        int transport = id;
        while (reading.get()) {
          int node = anyNode();
          long until = System.currentTimeMillis() + 2_000 + ThreadLocalRandom.current().nextInt(4_000);
          try {
            switch (transport++ % 3) {
              case 0 -> sse(node, until);
              case 1 -> longPoll(node, until);
              default -> webSocket(node, until);
            }
          } catch (Exception e) {
            pause(100);
          }
          if (target == null) {
            target = finalOf(stream);
          }
        }
      }

      private void sse(int node, long until) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(uri(node, "/v1/stream/" + stream + "?live=sse&offset="
            + URLEncoder.encode(offset, StandardCharsets.UTF_8))).GET().build();
        HttpResponse<InputStream> response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        try (InputStream body = response.body()) {
          if (response.statusCode() != 200) {
            pause(200);
            return;
          }
          ScheduledClose close = new ScheduledClose(body, until);
          BufferedReader lines = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8));
          String event = null;
          StringBuilder data = new StringBuilder();
          StringBuilder pending = new StringBuilder();
          String line;
          while ((line = lines.readLine()) != null && reading.get()) {
            if (line.startsWith("event:")) {
              event = line.substring(6).trim();
            } else if (line.startsWith("data:")) {
              if (data.length() > 0) {
                data.append('\n');
              }
              data.append(line.startsWith("data: ") ? line.substring(6) : line.substring(5));
            } else if (line.isEmpty()) {
              if ("data".equals(event)) {
                pending.append(data);
              } else if ("control".equals(event)) {
                // Data counts once the control event after it names the offset it reached.
                String next = new JsonObject(data.toString()).getString("streamNextOffset");
                if (next != null) {
                  commit(pending.toString(), next, "sse@" + node);
                }
                pending.setLength(0);
              }
              event = null;
              data.setLength(0);
            }
          }
          close.cancel();
        }
      }

      private void longPoll(int node, long until) {
        while (System.currentTimeMillis() < until && reading.get()) {
          String live = "-1".equals(offset) ? "" : "&live=long-poll";
          Resp r = send("GET", node, "/v1/stream/" + stream + "?offset=" + URLEncoder.encode(offset, StandardCharsets.UTF_8)
              + live, Map.of(), null, Duration.ofSeconds(40));
          if (r == null || (r.status != 200 && r.status != 204)) {
            return;
          }
          String next = r.header("Stream-Next-Offset");
          if (next != null) {
            commit(r.status == 200 ? r.body : "", next, "long-poll@" + node);
          }
        }
      }

      private void webSocket(int node, long until) throws Exception {
        String url = uri(node, "/v1/stream/" + stream + "?live=ws&offset="
            + URLEncoder.encode(offset, StandardCharsets.UTF_8)).toString().replaceFirst("^http", "ws");
        CountDownLatch closed = new CountDownLatch(1);
        StringBuilder partial = new StringBuilder();
        Object connection = new Object();
        synchronized (this) {
          liveSocket = connection;
        }
        WebSocket ws = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(3))
            .buildAsync(URI.create(url), new WebSocket.Listener() {
              @Override
              public java.util.concurrent.CompletionStage<?> onText(WebSocket socket, CharSequence text, boolean last) {
                partial.append(text);
                if (last) {
                  frame(connection, node, new JsonObject(partial.toString()));
                  partial.setLength(0);
                }
                socket.request(1);
                return null;
              }

              @Override
              public java.util.concurrent.CompletionStage<?> onClose(WebSocket socket, int code, String reason) {
                closed.countDown();
                return null;
              }

              @Override
              public void onError(WebSocket socket, Throwable error) {
                closed.countDown();
              }
            }).get(5, TimeUnit.SECONDS);
        closed.await(Math.max(1, until - System.currentTimeMillis()), TimeUnit.MILLISECONDS);
        // abort() does not wait for a listener call already under way: a frame received just now could
        // otherwise be committed after the next transport read the offset, and be delivered twice.
        synchronized (this) {
          liveSocket = null;
        }
        ws.abort();
      }

      private void frame(Object connection, int node, JsonObject frame) {
        if ("data".equals(frame.getString("type"))) {
          synchronized (this) {
            if (connection != liveSocket) {
              return;
            }
            if (!frame.getString("offset").equals(offset) && !"-1".equals(offset)) {
              // A frame that does not start where this reader is: a gap or a repeat on the server's side.
              delivered.append("<frame at ").append(frame.getString("offset")).append(" while at ").append(offset).append('>');
            }
            commit(frame.getString("data"), frame.getString("nextOffset"), "ws@" + node);
          }
        }
      }
    }

    private String finalOf(String stream) {
      return writing.get() ? null : history.finalOf(stream);
    }

    // -------------------------------------------------------------------------------- faults

    private String inject(String fault, String stream) throws Exception {
      JsonObject where = admin(stream);
      int owner = nodeIndex(where.getJsonObject("owner").getString("nodeId"));
      switch (fault) {
        case "kill" -> {
          cluster("kill", owner);
          down.add(owner);
          Thread.sleep(3_000);
          cluster("start", owner);
          down.remove(owner);
        }
        case "term" -> {
          down.add(owner);
          cluster("stop", owner);
          cluster("start", owner);
          down.remove(owner);
        }
        case "stop" -> {
          cluster("pause", owner);
          try {
            Thread.sleep(10_000);
          } finally {
            cluster("resume", owner);
          }
        }
        case "partition" -> {
          List<Integer> group = new ArrayList<>(List.of(owner));
          String backupOfStream = where.getString("backupNodeId");
          if (nodes >= 5 && backupOfStream != null && partitionRounds++ % 2 == 0) {
            // Every other time, the stream's backup goes with its owner: the other side has no copy of it
            // at all and must neither answer "not found" nor let it be created again.
            group.add(nodeIndex(backupOfStream));
          }
          while (group.size() < (nodes - 1) / 2) {
            int other = 1 + random.nextInt(nodes);
            if (!group.contains(other)) {
              group.add(other);
            }
          }
          cluster("partition", group.stream().map(String::valueOf).reduce((a, b) -> a + "," + b).orElseThrow());
          try {
            Thread.sleep(15_000);
          } finally {
            cluster("heal");
          }
          return "partition " + group + "|rest";
        }
        case "backup-stall" -> {
          String backupId = where.getString("backupNodeId");
          int backup = backupId == null ? 1 + (owner % nodes) : nodeIndex(backupId);
          cluster("pause", backup);
          try {
            Thread.sleep(3_000);
            cluster("kill", owner);
            down.add(owner);
          } finally {
            cluster("resume", backup);
          }
          Thread.sleep(2_000);
          cluster("start", owner);
          down.remove(owner);
          return "backup node-" + backup + " stalled, owner node-" + owner + " killed";
        }
        case "upgrade" -> {
          // A rolling upgrade across wire-format versions: every node in turn stopped (SIGTERM) and started
          // as the other version (one whose every message carries an added field), the next only once the
          // cluster is whole and replicated again. Old and new nodes serve side by side meanwhile; the
          // next upgrade round rolls back.
          wireExtension = !wireExtension;
          for (int i = 1; i <= nodes; i++) {
            down.add(i);
            cluster("stop", i);
            clusterWith(Map.of("TETHER_JVM_OPTS", jvmOpts()), "start", i);
            down.remove(i);
            awaitHealthy(Duration.ofSeconds(150));
          }
          return (wireExtension ? "upgrade" : "downgrade") + " of " + nodes + " nodes";
        }
        default -> throw new IllegalArgumentException(fault);
      }
      return fault + " owner node-" + owner;
    }

    private JsonObject admin(String stream) throws InterruptedException {
      for (int i = 0; i < 100; i++) {
        Resp r = send("GET", anyNode(), "/v1/admin/streams/" + stream, Map.of(), null);
        if (r != null && r.status == 200) {
          return new JsonObject(r.body);
        }
        Thread.sleep(100);
      }
      throw new IllegalStateException("no owner found for " + stream);
    }

    // -------------------------------------------------------------------------------- reads

    private String readAll(String stream) {
      return readAll(stream, Map.of(), false);
    }

    /** Reads a stream from its beginning to its tail through any node that answers. */
    private String readAll(String stream, Map<String, String> headers, boolean json) {
      long deadline = System.currentTimeMillis() + 60_000;
      StringBuilder text = new StringBuilder();
      JsonArray merged = new JsonArray();
      String offset = "-1";
      while (System.currentTimeMillis() < deadline) {
        Resp r = send("GET", anyNode(), "/v1/stream/" + stream + "?offset=" + URLEncoder.encode(offset, StandardCharsets.UTF_8),
            headers, null);
        if (r == null || r.status != 200) {
          pause(200);
          continue;
        }
        if (json) {
          merged.addAll(new JsonArray(r.body));
        } else {
          text.append(r.body);
        }
        offset = r.header("Stream-Next-Offset");
        if ("true".equals(r.header("Stream-Up-To-Date"))) {
          return json ? merged.encode() : text.toString();
        }
      }
      return null;
    }
  }

  // ------------------------------------------------------------------------------------------ cluster

  /**
   * Waits until every node answers, sees all members, is on the majority side, and every partition has
   * its backups in place again: the next fault then meets a recovered cluster, one fault at a time.
   */
  private void awaitHealthy(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      boolean healthy = true;
      for (int i = 1; i <= nodes && healthy; i++) {
        Resp r = send("GET", i, "/health/ready", Map.of(), null, Duration.ofSeconds(2));
        healthy = r != null && r.body != null && r.body.startsWith("{")
            && new JsonObject(r.body).getInteger("members", 0) == nodes
            && new JsonObject(r.body).getBoolean("quorum", false)
            && new JsonObject(r.body).getBoolean("partitionsSafe", false);
      }
      if (healthy) {
        return;
      }
      Thread.sleep(250);
    }
    throw new IllegalStateException("the cluster did not become whole within " + timeout.toSeconds() + " s");
  }

  private void cluster(String command, Object... args) throws IOException, InterruptedException {
    clusterWith(Map.of("TETHER_JVM_OPTS", jvmOpts()), command, args);
  }

  /** The JVM options nodes start with: the harness's, plus the wire-format variant when it is on. */
  private String jvmOpts() {
    String base = System.getenv().getOrDefault("TETHER_JVM_OPTS", "-Xmx512m");
    return wireExtension ? base + " -Dtether.wire.extension=true" : base;
  }

  private void clusterWith(Map<String, String> env, String command, Object... args)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("bash", script.toString(), command));
    for (Object arg : args) {
      cmd.add(String.valueOf(arg));
    }
    ProcessBuilder builder = new ProcessBuilder(cmd).redirectErrorStream(true);
    builder.environment().putAll(env);
    Process p = builder.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(200, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException("cluster.sh " + String.join(" ", cmd.subList(2, cmd.size())) + " failed: " + out);
    }
  }

  private int anyNode() {
    List<Integer> up = new ArrayList<>();
    for (int i = 1; i <= nodes; i++) {
      if (!down.contains(i)) {
        up.add(i);
      }
    }
    return up.get(ThreadLocalRandom.current().nextInt(up.size()));
  }

  private static int nodeIndex(String nodeId) {
    return Integer.parseInt(nodeId.substring(nodeId.lastIndexOf('-') + 1));
  }

  private String host(int node) {
    return netnsPrefix.isEmpty() ? "127.0.0.1" : netnsPrefix + node;
  }

  private URI uri(int node, String path) {
    return URI.create("http://" + host(node) + ":" + (basePort + node) + path);
  }

  private Resp send(String method, int node, String path, Map<String, String> headers, String body) {
    return send(method, node, path, headers, body, REQUEST_TIMEOUT);
  }

  private Resp send(String method, int node, String path, Map<String, String> headers, String body, Duration timeout) {
    try {
      HttpRequest.Builder b = HttpRequest.newBuilder(uri(node, path)).timeout(timeout)
          .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
      headers.forEach(b::header);
      HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
      return new Resp(r.statusCode(), r.headers().map(), r.body());
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  private static void pause(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private record Resp(int status, Map<String, List<String>> headers, String body) {
    String header(String name) {
      for (Map.Entry<String, List<String>> e : headers.entrySet()) {
        if (e.getKey().equalsIgnoreCase(name) && !e.getValue().isEmpty()) {
          return e.getValue().get(0);
        }
      }
      return null;
    }

    String errorCode() {
      try {
        return new JsonObject(body).getJsonObject("error").getString("code");
      } catch (RuntimeException e) {
        return null;
      }
    }
  }

  /** Closes a response body at a deadline, ending a blocking read of it. */
  private static final class ScheduledClose {
    private final Thread thread;

    ScheduledClose(InputStream body, long until) {
      thread = new Thread(() -> {
        try {
          Thread.sleep(Math.max(1, until - System.currentTimeMillis()));
          body.close();
        } catch (InterruptedException | IOException ignored) {
          // cancelled, or already closed
        }
      }, "sse-close");
      thread.setDaemon(true);
      thread.start();
    }

    void cancel() {
      thread.interrupt();
    }
  }
}
