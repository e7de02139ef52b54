package dev.rage2e.experiment;

import dev.rage2e.util.AtomicFiles;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;

/** Learning curves as a PNG (Java2D): one panel per metric, one line per series, y in [0, yMax]. */
public final class CurvePlot {
    public record Series(String label, Color color, boolean dashed, double[] x, double[] y) {}

    private final String title;
    private final Map<String, List<Series>> panels = new LinkedHashMap<>();

    public CurvePlot(String title) {
        this.title = title;
    }

    public void add(String panel, Series s) {
        panels.computeIfAbsent(panel, k -> new ArrayList<>()).add(s);
    }

    public void write(Path png) throws IOException {
        int pw = 520, ph = 360, top = 40;
        int w = pw * Math.max(1, panels.size()), h = ph + top;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        g.drawString(title, 12, 24);
        int i = 0;
        for (Map.Entry<String, List<Series>> e : panels.entrySet())
            drawPanel(g, e.getKey(), e.getValue(), i++ * pw, top, pw, ph);
        g.dispose();
        AtomicFiles.write(png, out -> ImageIO.write(img, "png", out));
    }

    private static void drawPanel(Graphics2D g, String name, List<Series> series, int ox, int oy, int pw, int ph) {
        int left = ox + 60, right = ox + pw - 20, top = oy + 30, bottom = oy + ph - 50;
        double xMax = 1, yMax = 0;
        for (Series s : series) {
            for (double x : s.x()) xMax = Math.max(xMax, x);
            for (double y : s.y()) yMax = Math.max(yMax, y);
        }
        double top1 = niceCeil(Math.max(yMax * 1.1, 0.05));
        yMax = yMax <= 1 ? Math.min(1, top1) : top1; // rates stay on a [0, 1] axis
        xMax = niceCeil(xMax);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.setColor(Color.BLACK);
        g.drawString(name, left, oy + 18);
        for (int t = 0; t <= 5; t++) {
            int y = bottom - (int) Math.round((bottom - top) * t / 5.0);
            int x = left + (int) Math.round((right - left) * t / 5.0);
            g.setColor(new Color(225, 225, 225));
            g.drawLine(left, y, right, y);
            g.setColor(Color.DARK_GRAY);
            g.drawString(fmt(yMax * t / 5), ox + 8, y + 4);
            g.drawString(fmt(xMax * t / 5), x - 10, bottom + 16);
        }
        g.setColor(Color.BLACK);
        g.drawRect(left, top, right - left, bottom - top);
        g.drawString("training step", (left + right) / 2 - 35, bottom + 34);
        int ly = top + 16;
        for (Series s : series) {
            g.setColor(s.color());
            g.setStroke(
                    s.dashed()
                            ? new BasicStroke(
                                    2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 1f, new float[] {6f, 4f}, 0f)
                            : new BasicStroke(2f));
            int px = -1, py = -1;
            for (int k = 0; k < s.x().length; k++) {
                int x = left + (int) Math.round((right - left) * s.x()[k] / xMax);
                int y = bottom - (int) Math.round((bottom - top) * s.y()[k] / yMax);
                if (px >= 0) g.drawLine(px, py, x, y);
                g.fillOval(x - 3, y - 3, 6, 6);
                px = x;
                py = y;
            }
            g.drawLine(right - 150, ly - 4, right - 125, ly - 4);
            g.setStroke(new BasicStroke(1f));
            g.drawString(s.label(), right - 120, ly);
            ly += 16;
        }
        g.setStroke(new BasicStroke(1f));
    }

    private static double niceCeil(double v) {
        double p = Math.pow(10, Math.floor(Math.log10(v)));
        for (double m : new double[] {1, 2, 2.5, 5, 10}) if (m * p >= v) return m * p;
        return 10 * p;
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? String.valueOf((long) v) : String.format("%.2f", v);
    }
}
