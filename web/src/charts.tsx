// uPlot charts (canvas: fast with 2,000-breath series). Each chart has a visible title and a text alternative.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { markerPlugin, type MarkerPluginOptions } from "./markers";

export interface SeriesSpec {
  label: string;
  stroke: string;
  scale?: string;
  dash?: number[];
  points?: boolean;
}

export interface Band {
  start: number;
  end: number;
  label: string;
  fill: string;
}

/** Shaded phases (baseline, warm-up, incremental, recovery) behind the series. */
function bandsPlugin(bands: Band[]): uPlot.Plugin {
  return {
    hooks: {
      drawClear: (u: uPlot) => {
        const ctx = u.ctx;
        ctx.save();
        for (const band of bands) {
          const x0 = u.valToPos(band.start, "x", true);
          const x1 = u.valToPos(band.end, "x", true);
          ctx.fillStyle = band.fill;
          ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
          ctx.fillStyle = "#444";
          ctx.font = `${11 * devicePixelRatio}px sans-serif`;
          if (ctx.measureText(band.label).width + 6 * devicePixelRatio < x1 - x0) { // only where it fits
            ctx.fillText(band.label, x0 + 3 * devicePixelRatio, u.bbox.top + u.bbox.height - 4 * devicePixelRatio);
          }
        }
        ctx.restore();
      },
    },
  };
}

export interface LineChartProps {
  title: string;
  data: (ArrayLike<number | null>)[];
  series: SeriesSpec[];
  height?: number;
  time?: boolean;
  xLabel?: string;
  yLabel?: string;
  y2Label?: string;
  points?: boolean;
  /** scatter: points only, no lines (V-slope) */
  scatter?: boolean;
  bands?: Band[];
  markers?: MarkerPluginOptions;
  /** changes that must redraw the markers without rebuilding the chart */
  markerKey?: string;
  onReady?: (u: uPlot) => void;
}

export function LineChart(props: LineChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = host.current!;
    const width = Math.max(320, el.clientWidth || 640);
    const scales: Record<string, uPlot.Scale> = { x: { time: !!props.time } };
    const axes: uPlot.Axis[] = [{ label: props.xLabel }, { label: props.yLabel, scale: "y" }];
    if (props.series.some((s) => s.scale === "y2")) {
      axes.push({ label: props.y2Label, scale: "y2", side: 1, grid: { show: false } });
    }
    const opts: uPlot.Options = {
      width,
      height: props.height ?? 260,
      scales,
      axes,
      cursor: { drag: { x: false, y: false } },
      legend: { show: true },
      plugins: [
        // the x range drawn, for the browser tests that drag a marker to a given time
        { hooks: { draw: (u: uPlot) => {
          el.dataset.xMin = String(u.scales.x.min);
          el.dataset.xMax = String(u.scales.x.max);
        } } },
        ...(props.bands?.length ? [bandsPlugin(props.bands)] : []),
        ...(props.markers ? [markerPlugin(props.markers)] : []),
      ],
      series: [
        { label: props.xLabel ?? "x" },
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.stroke,
          scale: s.scale ?? "y",
          dash: s.dash,
          width: 1.5,
          spanGaps: true,
          paths: props.scatter ? () => null : undefined,
          points: { show: props.scatter || s.points || props.points || false, size: props.scatter ? 3 : 6,
                    fill: s.stroke },
        })),
      ],
    };
    plot.current = new uPlot(opts, props.data as uPlot.AlignedData, el);
    props.onReady?.(plot.current);
    const resize = new ResizeObserver(() => {
      const w = el.clientWidth;
      if (plot.current && w > 0 && Math.abs(w - plot.current.width) > 4) {
        plot.current.setSize({ width: w, height: props.height ?? 260 });
      }
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [props.data, props.title]);

  useEffect(() => {
    plot.current?.redraw(false, false);
  }, [props.markerKey]);

  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <div ref={host} class="chart-host" role="img" aria-label={props.title} />
    </figure>
  );
}
