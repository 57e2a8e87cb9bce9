// report_view.js — zoom and pan for the timelines of a paraxis report. CMake turns this file into the string
// report::kViewScript (src/trace/report_view_js.cc.in) and html_report.cc writes it into the page, so the page
// stays one file. Without script the page shows the layout html_report.cc drew: the whole window.
//
// Every svg.timeline shares one view [t0, t1], in ms from the start of its trace's window. Its elements that
// carry data-b and data-e (ms) are laid out again for each view: events (rect.ev) keep a minimum width, the
// critical-path outline (data-c) is drawn only on events at least data-crit-px wide, and an event's name
// (data-n) only where it fits — the rules report_timeline.cc applies, with the numbers it writes on the svg.
(function () {
  'use strict';
  const timelines = Array.from(document.querySelectorAll('svg.timeline'));
  if (timelines.length === 0) return;
  const cfg = timelines[0].dataset;
  const PLOT_X = Number(cfg.plotX), PLOT_W = Number(cfg.plotW), AXIS_MS = Number(cfg.axisMs);
  const AXIS_H = Number(cfg.axisH), MIN_PX = Number(cfg.minPx);
  const CRIT_PX = Number(cfg.critPx), LABEL_PX = Number(cfg.labelPx);
  const MIN_SPAN_MS = Math.min(AXIS_MS, 1e-3);  // zooming in stops at 1 µs across the plot
  const SVG_NS = timelines[0].namespaceURI;

  // What each timeline lays out, read once from the page.
  const items = timelines.map((svg) => Array.from(svg.querySelectorAll('[data-b]')).map((el) => ({
    el: el,
    b: Number(el.dataset.b),
    e: Number(el.dataset.e),
    event: el.classList.contains('ev'),
    critical: el.dataset.c === '1',
    name: el.dataset.n || '',
    labelY: Number(el.getAttribute('y')) + Number(el.getAttribute('height')) - 6,
  })));

  function clampView(t0, t1) {
    const span = Math.min(AXIS_MS, Math.max(MIN_SPAN_MS, t1 - t0));
    const start = Math.min(Math.max(0, t0), AXIS_MS - span);
    return [start, start + span];
  }

  // report.html#view=A:B opens the page at A..B ms.
  function initialView() {
    const m = /^#view=([-+0-9.eE]+):([-+0-9.eE]+)$/.exec(window.location.hash);
    if (m && Number(m[2]) > Number(m[1])) return clampView(Number(m[1]), Number(m[2]));
    return [0, AXIS_MS];
  }

  let view = initialView();

  // 1, 2 or 5 × 10^k ms, about eight ticks (tick_step_ms in report_timeline.cc).
  function tickStep(span) {
    const raw = Math.max(span, 1e-6) / 8;
    const base = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const f of [1, 2, 5, 10]) if (f * base >= raw) return f * base;
    return 10 * base;
  }

  function svgElement(name, attributes, text) {
    const el = document.createElementNS(SVG_NS, name);
    for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, value);
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function drawAxis(svg, pxPerMs) {
    const axis = svg.querySelector('g.axis');
    axis.replaceChildren();
    const step = tickStep(view[1] - view[0]);
    const height = svg.viewBox.baseVal.height;
    for (let k = Math.ceil(view[0] / step - 1e-9); k * step <= view[1] + 1e-9; ++k) {
      const x = (PLOT_X + (k * step - view[0]) * pxPerMs).toFixed(1);
      axis.appendChild(svgElement('line', {class: 'tick', x1: x, y1: AXIS_H - 6, x2: x, y2: height}));
      axis.appendChild(svgElement('text', {class: 'axis', x: x, y: AXIS_H - 10, 'text-anchor': 'middle'},
                                  Number((k * step).toPrecision(6)) + ' ms'));
    }
  }

  // Lays out one element for the view; returns its width in px (0 when it is out of view).
  function place(item, pxPerMs) {
    const b = Math.max(item.b, view[0]), e = Math.min(item.e, view[1]);
    const visible = item.b === item.e ? item.b >= view[0] && item.b <= view[1] : e > b;
    item.el.style.display = visible ? '' : 'none';
    if (!visible) return 0;
    const width = Math.max(item.event ? MIN_PX : 0, (e - b) * pxPerMs);
    item.el.setAttribute('x', (PLOT_X + (b - view[0]) * pxPerMs).toFixed(2));
    item.el.setAttribute('width', width.toFixed(2));
    if (item.event) item.el.classList.toggle('crit', item.critical && width >= CRIT_PX);
    return width;
  }

  function label(item, width) {
    const x = Number(item.el.getAttribute('x')) + width / 2;
    return svgElement('text', {class: 'evl', x: x.toFixed(1), y: item.labelY.toFixed(1)}, item.name);
  }

  function layout() {
    const pxPerMs = PLOT_W / (view[1] - view[0]);
    timelines.forEach((svg, i) => {
      drawAxis(svg, pxPerMs);
      svg.querySelectorAll('text.evl').forEach((t) => t.remove());
      for (const item of items[i]) {
        const width = place(item, pxPerMs);
        if (item.name && width >= LABEL_PX) item.el.parentNode.appendChild(label(item, width));
      }
      svg.dataset.view = view[0].toFixed(6) + ':' + view[1].toFixed(6);
    });
    readout.textContent = 'showing ' + Number(view[0].toPrecision(6)) + '–' + Number(view[1].toPrecision(6)) +
        ' ms of ' + Number(AXIS_MS.toPrecision(6)) + ' ms (×' + (AXIS_MS / (view[1] - view[0])).toFixed(1) + ')';
  }

  // Laid out at once: a window of a few steps holds about a thousand elements, a millisecond's work.
  function setView(t0, t1) {
    view = clampView(t0, t1);
    layout();
  }
  function zoomAt(factor, atMs) {
    setView(atMs - (atMs - view[0]) / factor, atMs + (view[1] - atMs) / factor);
  }
  function panBy(ms) {
    setView(view[0] + ms, view[1] + ms);
  }
  function middle() {
    return (view[0] + view[1]) / 2;
  }

  // The time under a pointer position, and the time a horizontal distance on screen spans.
  function svgUnitsPerPx(svg) {
    return svg.viewBox.baseVal.width / svg.getBoundingClientRect().width;
  }
  function msAt(svg, clientX) {
    const x = (clientX - svg.getBoundingClientRect().left) * svgUnitsPerPx(svg);
    return view[0] + (x - PLOT_X) / PLOT_W * (view[1] - view[0]);
  }

  function controls() {
    const bar = document.createElement('div');
    bar.className = 'view-controls';
    const button = (text, title, action) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = text;
      b.title = title;
      b.addEventListener('click', action);
      bar.appendChild(b);
    };
    button('−', 'zoom out', () => zoomAt(0.5, middle()));
    button('+', 'zoom in', () => zoomAt(2, middle()));
    button('◀', 'pan left', () => panBy(-(view[1] - view[0]) / 4));
    button('▶', 'pan right', () => panBy((view[1] - view[0]) / 4));
    button('reset', 'show the whole window', () => setView(0, AXIS_MS));
    const text = document.createElement('span');
    bar.appendChild(text);
    const hint = document.createElement('span');
    hint.textContent = ' · Ctrl + wheel (or pinch) zooms at the pointer, drag or Shift + wheel pans, ' +
        'double-click resets';
    bar.appendChild(hint);
    const legend = document.querySelector('.legend');
    legend.parentNode.insertBefore(bar, legend.nextSibling);
    return text;
  }

  function listen(svg) {
    svg.classList.add('zoomable');
    svg.addEventListener('wheel', (ev) => {
      if (ev.ctrlKey || ev.metaKey) {
        ev.preventDefault();
        zoomAt(Math.exp(-ev.deltaY * 0.002), msAt(svg, ev.clientX));
      } else if (ev.shiftKey || Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) {
        ev.preventDefault();
        const px = ev.deltaX !== 0 ? ev.deltaX : ev.deltaY;
        panBy(px * svgUnitsPerPx(svg) / PLOT_W * (view[1] - view[0]));
      }
    }, {passive: false});
    let drag = null;
    svg.addEventListener('pointerdown', (ev) => {
      drag = {x: ev.clientX, view: view.slice()};
      svg.setPointerCapture(ev.pointerId);
    });
    svg.addEventListener('pointermove', (ev) => {
      if (!drag) return;
      const ms = (ev.clientX - drag.x) * svgUnitsPerPx(svg) / PLOT_W * (drag.view[1] - drag.view[0]);
      setView(drag.view[0] - ms, drag.view[1] - ms);
    });
    svg.addEventListener('pointerup', () => {
      drag = null;
    });
    svg.addEventListener('dblclick', () => setView(0, AXIS_MS));
  }

  const readout = controls();
  timelines.forEach(listen);
  layout();
})();
