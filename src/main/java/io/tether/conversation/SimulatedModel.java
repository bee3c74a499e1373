package io.tether.conversation;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The built-in model of the embedded default: no API key, deterministic answers, and the situations a
 * durable session layer must survive.
 *
 * <ul>
 *   <li>The answer to a prompt is always the same text ({@link #answer}), emitted one word at a time at
 *       {@code tokensPerSecond}. Given a partial answer (a resumed turn), it continues after it. The pace
 *       is the model's, by the clock, as a real upstream's is: words whose time has come while this
 *       node's event loop was busy are handed over together when it gets to them (as a real model's
 *       tokens wait in the socket), not one per timer turn, so a loaded node does not slow the model
 *       down.</li>
 *   <li>{@code /think N} in the prompt pauses N seconds before the first word (longer than proxy idle
 *       timeouts, so heartbeats are exercised); {@code thinkSeconds} does the same for every prompt.</li>
 *   <li>{@code /speed N} in the prompt answers it at N words per second (1-100) instead of
 *       {@code tokensPerSecond}: slow enough to cut the network or reload mid-answer (the demo's speed
 *       control), for the whole turn, resumes included.</li>
 *   <li>A prompt that mentions the weather asks for the {@code get_weather} tool first, then answers with
 *       its result.</li>
 * </ul>
 */
public final class SimulatedModel implements ChatModel {

  private static final Pattern THINK = Pattern.compile("/think\\s+(\\d{1,4})");
  private static final Pattern SPEED = Pattern.compile("/speed\\s+(\\d{1,3})");
  private static final Pattern CITY = Pattern.compile("(?i)weather\\s+in\\s+([A-Za-z][A-Za-z .'-]{0,40}?)(?:[?.!,]|$)");
  private static final String[] WORDS = ("durable sessions keep every token of an answer in an offset addressed stream "
      + "so a client that reconnects on any node resumes exactly where it left off with no gap and no duplicate "
      + "while the generation keeps running on the owner of the session even when nobody is connected").split(" ");

  private final Vertx vertx;
  private final double tokensPerSecond;
  private final int answerWords;
  private final long thinkMillis;

  public SimulatedModel(Vertx vertx, double tokensPerSecond, int answerWords, long thinkMillis) {
    if (tokensPerSecond <= 0) {
      throw new IllegalArgumentException("tokens per second must be positive");
    }
    this.vertx = vertx;
    this.tokensPerSecond = tokensPerSecond;
    this.answerWords = answerWords;
    this.thinkMillis = thinkMillis;
  }

  @Override
  public String name() {
    return "simulated";
  }

  /** The tools this model knows how to ask for. */
  public static JsonArray tools() {
    return new JsonArray().add(new JsonObject().put("type", "function").put("function", new JsonObject()
        .put("name", "get_weather")
        .put("description", "Current weather for a city")
        .put("parameters", new JsonObject().put("type", "object")
            .put("properties", new JsonObject().put("city", new JsonObject().put("type", "string")))
            .put("required", new JsonArray().add("city")))));
  }

  /**
   * The complete answer to {@code request}: a tool request (when the prompt asks for the weather and no
   * result is there yet) or the text this model always gives.
   */
  public static String answer(ChatRequest request, int answerWords) {
    String prompt = request.lastUserText();
    StringBuilder text = new StringBuilder();
    for (JsonObject result : request.toolResultsSinceLastUser()) {
      text.append("The tool answered ").append(result.getString("content", "")).append(". ");
    }
    String shown = prompt.length() > 80 ? prompt.substring(0, 80) + "..." : prompt;
    text.append("You asked: \"").append(shown).append("\". ");
    // A fixed pseudo-random walk through the word list, seeded by the prompt.
    long x = prompt.hashCode() & 0xffffffffL;
    for (int i = 0; i < answerWords; i++) {
      x = (x * 6364136223846793005L + 1442695040888963407L);
      String word = WORDS[(int) Math.floorMod(x >>> 33, (long) WORDS.length)];
      text.append(i == 0 ? Character.toUpperCase(word.charAt(0)) + word.substring(1) : word);
      text.append(i == answerWords - 1 ? "." : (i % 12 == 11 ? ", " : " "));
    }
    return text.toString();
  }

  /** Whether the prompt asks for a tool that has not answered yet; the city, or {@code null}. */
  static String wantsWeather(ChatRequest request) {
    if (!request.toolResultsSinceLastUser().isEmpty()) {
      return null;
    }
    String prompt = request.lastUserText();
    if (!prompt.toLowerCase(Locale.ROOT).contains("weather")) {
      return null;
    }
    Matcher m = CITY.matcher(prompt);
    return m.find() ? m.group(1).trim() : "Paris";
  }

  @Override
  public ModelCall stream(ChatRequest request, ModelSink sink) {
    double speed = tokensPerSecond;
    Matcher s = SPEED.matcher(request.lastUserText());
    if (s.find()) {
      speed = Math.max(1, Math.min(100, Integer.parseInt(s.group(1))));
    }
    Run run = new Run(request, sink, Math.max(1, Math.round(1000 / speed)));
    long think = thinkMillis;
    Matcher m = THINK.matcher(request.lastUserText());
    if (m.find() && request.partialAnswer().isEmpty() && request.toolResultsSinceLastUser().isEmpty()) {
      think = Long.parseLong(m.group(1)) * 1000;
    }
    run.timer = vertx.setTimer(Math.max(1, think), t -> run.next());
    return run;
  }

  private final class Run implements ModelCall {
    final ChatRequest request;
    final ModelSink sink;
    final long wordMillis;
    final List<String> pieces = new ArrayList<>();
    int position;
    /** When the first word was due (ms, monotonic); word {@code k} is due {@code k * wordMillis} later. */
    long firstDueAt = -1;
    long timer = -1;
    boolean cancelled;

    Run(ChatRequest request, ModelSink sink, long wordMillis) {
      this.request = request;
      this.sink = sink;
      this.wordMillis = wordMillis;
    }

    void next() {
      if (cancelled) {
        return;
      }
      if (position == 0 && pieces.isEmpty()) {
        String city = wantsWeather(request);
        if (city != null) {
          sink.toolCall(new ToolCallRequest("call_" + java.util.UUID.randomUUID().toString().substring(0, 8),
              "get_weather", new JsonObject().put("city", city).encode()));
          sink.finished("tool_calls");
          return;
        }
        split(answer(request, answerWords), request.partialAnswer());
        if (pieces.isEmpty()) {
          sink.finished("stop");
          return;
        }
      }
      long now = System.nanoTime() / 1_000_000;
      if (firstDueAt < 0) {
        firstDueAt = now;
      }
      int due = (int) Math.min(pieces.size(), Math.max(position + 1, (now - firstDueAt) / wordMillis + 1));
      if (due == position + 1) {
        sink.text(pieces.get(position));
      } else {
        sink.text(String.join("", pieces.subList(position, due)));
      }
      position = due;
      if (position == pieces.size()) {
        sink.finished("stop");
      } else {
        timer = vertx.setTimer(Math.max(1, firstDueAt + position * wordMillis - now), t -> next());
      }
    }

    /** Words of the answer after the partial one (the rest of a cut word first). */
    void split(String full, String partial) {
      String rest = full.startsWith(partial) ? full.substring(partial.length()) : full;
      int start = 0;
      for (int i = 0; i < rest.length(); i++) {
        if (rest.charAt(i) == ' ' || i == rest.length() - 1) {
          pieces.add(rest.substring(start, i + 1));
          start = i + 1;
        }
      }
    }

    @Override
    public void cancel() {
      cancelled = true;
      if (timer >= 0) {
        vertx.cancelTimer(timer);
      }
    }
  }
}
