package io.tether.conversation;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tools a model may call and how each one runs. Loaded from the JSON file named by
 * {@code TETHER_TOOLS_FILE}: an array of OpenAI tool definitions, each with two extra fields,
 * {@code approval} (a person must approve each call) and {@code executor}:
 * <ul>
 *   <li>{@code webhook}: Tether POSTs the call to {@code TETHER_TOOL_WEBHOOK_URL} (the app's backend);</li>
 *   <li>{@code client}: a device posts the result ({@code POST /v1/sessions/{id}/tools/{callId}/result});</li>
 *   <li>{@code builtin}: the simulated model's demo tool, answered by Tether itself.</li>
 * </ul>
 * Without a file, the simulated model's {@code get_weather} tool is available, with approval, built in.
 */
public final class Tools {

  /** One tool: its OpenAI definition and how it runs. */
  public record Tool(String name, JsonObject definition, boolean approval, String executor) {
  }

  private final Map<String, Tool> tools;

  private Tools(Map<String, Tool> tools) {
    this.tools = tools;
  }

  public static Tools defaults() {
    Map<String, Tool> tools = new LinkedHashMap<>();
    for (Object o : SimulatedModel.tools()) {
      JsonObject definition = (JsonObject) o;
      String name = definition.getJsonObject("function").getString("name");
      tools.put(name, new Tool(name, definition, true, "builtin"));
    }
    return new Tools(tools);
  }

  /** Reads a tools file; a malformed file stops the node at start with a clear message. */
  public static Tools load(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read TETHER_TOOLS_FILE " + file + ": " + e.getMessage(), e);
    }
    Map<String, Tool> tools = new LinkedHashMap<>();
    JsonArray array;
    try {
      array = new JsonArray(text);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("TETHER_TOOLS_FILE " + file + " is not a JSON array: " + e.getMessage(), e);
    }
    for (Object o : array) {
      if (!(o instanceof JsonObject entry) || entry.getJsonObject("function") == null
          || entry.getJsonObject("function").getString("name") == null) {
        throw new IllegalArgumentException("TETHER_TOOLS_FILE: each tool needs function.name");
      }
      String executor = entry.getString("executor", "webhook");
      if (!executor.equals("webhook") && !executor.equals("client") && !executor.equals("builtin")) {
        throw new IllegalArgumentException("TETHER_TOOLS_FILE: executor must be webhook, client or builtin");
      }
      boolean approval = entry.getBoolean("approval", false);
      JsonObject definition = entry.copy();
      definition.remove("executor");
      definition.remove("approval");
      definition.put("type", "function");
      String name = definition.getJsonObject("function").getString("name");
      tools.put(name, new Tool(name, definition, approval, executor));
    }
    return new Tools(tools);
  }

  /** The tool called {@code name}; an unknown name runs nowhere and fails the call. */
  public Tool get(String name) {
    return tools.get(name);
  }

  /** OpenAI {@code tools} array. */
  public JsonArray definitions() {
    JsonArray out = new JsonArray();
    tools.values().forEach(t -> out.add(t.definition()));
    return out;
  }
}
