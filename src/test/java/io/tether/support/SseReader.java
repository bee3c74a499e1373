package io.tether.support;

import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/** Reads a Server-Sent Events response incrementally and keeps every event and comment it saw. */
public final class SseReader implements AutoCloseable {

  /** One SSE event: its type and its data lines joined by newlines. */
  public record Event(String type, String data) {
    public JsonObject json() {
      return new JsonObject(data);
    }
  }

  private final HttpClientResponse response;
  private final List<Event> events = new CopyOnWriteArrayList<>();
  private final AtomicInteger comments = new AtomicInteger();
  private final List<String> commentLines = new java.util.concurrent.CopyOnWriteArrayList<>();
  private final AtomicBoolean ended = new AtomicBoolean();
  private volatile Throwable failure;
  private final StringBuilder pending = new StringBuilder();

  private SseReader(HttpClientResponse response) {
    this.response = response;
  }

  static SseReader open(HttpClient client, String path) {
    // Handlers are set in the same event-loop turn that delivers the response, so no chunk is missed.
    return Await.result(client.request(HttpMethod.GET, path).compose(req -> req.send()).map(response -> {
      SseReader reader = new SseReader(response);
      response.handler(buf -> reader.feed(buf.toString(StandardCharsets.UTF_8)));
      response.endHandler(v -> reader.ended.set(true));
      response.exceptionHandler(e -> {
        reader.failure = e;
        reader.ended.set(true);
      });
      return reader;
    }));
  }

  private synchronized void feed(String chunk) {
    pending.append(chunk);
    int boundary;
    while ((boundary = pending.indexOf("\n\n")) >= 0) {
      String block = pending.substring(0, boundary);
      pending.delete(0, boundary + 2);
      String type = null;
      StringBuilder data = null;
      for (String line : block.split("\n", -1)) {
        if (line.startsWith(":")) {
          comments.incrementAndGet();
          commentLines.add(line.substring(1).trim());
        } else if (line.startsWith("event:")) {
          type = line.substring(6).trim();
        } else if (line.startsWith("data:")) {
          String content = line.substring(5);
          content = content.startsWith(" ") ? content.substring(1) : content;
          data = data == null ? new StringBuilder(content) : data.append('\n').append(content);
        }
      }
      if (type != null) {
        events.add(new Event(type, data == null ? "" : data.toString()));
      }
    }
  }

  public int status() {
    return response.statusCode();
  }

  public String header(String name) {
    return response.getHeader(name);
  }

  public List<Event> events() {
    return List.copyOf(events);
  }

  public List<Event> events(String type) {
    return events.stream().filter(e -> e.type().equals(type)).toList();
  }

  /** Concatenated data of all {@code data} events. */
  public String data() {
    StringBuilder out = new StringBuilder();
    for (Event e : events("data")) {
      out.append(e.data());
    }
    return out.toString();
  }

  public JsonObject lastControl() {
    List<Event> controls = events("control");
    return controls.isEmpty() ? null : controls.get(controls.size() - 1).json();
  }

  public int comments() {
    return comments.get();
  }

  /** The text of every comment line ({@code : ...}) received. */
  public List<String> commentLines() {
    return List.copyOf(commentLines);
  }

  /** The error that ended the response (the connection closed in the middle of it), or {@code null}. */
  public Throwable failure() {
    return failure;
  }

  public boolean ended() {
    return ended.get();
  }

  @Override
  public void close() {
    response.request().connection().close();
  }
}
