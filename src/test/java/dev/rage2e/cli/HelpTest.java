package dev.rage2e.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Every command and subcommand answers --help, and its one-line summary in its parent's list is a whole sentence. */
class HelpTest {
    @Test
    void everyCommandAnswersHelp() {
        List<List<String>> paths = new ArrayList<>();
        walk(new CommandLine(new Main()), new ArrayList<>(), paths);
        assertTrue(paths.size() > 25, "commands found: " + paths.size());
        List<String> broken = new ArrayList<>();
        for (List<String> path : paths) {
            CommandLine cl = new CommandLine(new Main()); // fresh: picocli keeps parsed state in the command objects
            StringWriter out = new StringWriter(), err = new StringWriter();
            cl.setOut(new PrintWriter(out));
            cl.setErr(new PrintWriter(err));
            List<String> args = new ArrayList<>(path);
            args.add("--help");
            int code = cl.execute(args.toArray(new String[0]));
            String usage = out.toString();
            if (code != 0 || !usage.startsWith("Usage: rag" + (path.isEmpty() ? "" : " " + String.join(" ", path)))) {
                broken.add(String.join(" ", path) + " --help: exit " + code + ", "
                        + (usage.isEmpty()
                                ? err.toString().strip()
                                : usage.lines().findFirst().orElse("")));
            }
        }
        assertEquals(List.of(), broken);
    }

    @Test
    void summariesAreWholeSentences() {
        List<String> cut = new ArrayList<>();
        summaries(new CommandLine(new Main()), "rag", cut);
        assertEquals(List.of(), cut, "the first description line is what `rag --help` lists: it must end a sentence");
    }

    private static void walk(CommandLine cl, List<String> path, List<List<String>> out) {
        out.add(new ArrayList<>(path));
        for (Map.Entry<String, CommandLine> e : cl.getSubcommands().entrySet()) {
            if (!e.getValue().getCommandName().equals(e.getKey())) continue; // an alias
            path.add(e.getKey());
            walk(e.getValue(), path, out);
            path.remove(path.size() - 1);
        }
    }

    private static void summaries(CommandLine cl, String name, List<String> cut) {
        String[] d = cl.getCommandSpec().usageMessage().description();
        String first = d.length == 0 ? "" : d[0].strip();
        if (!first.endsWith(".")) cut.add(name + ": \"" + first + "\"");
        for (Map.Entry<String, CommandLine> e : cl.getSubcommands().entrySet()) {
            if (e.getValue().getCommandName().equals(e.getKey())) summaries(e.getValue(), name + " " + e.getKey(), cut);
        }
    }
}
