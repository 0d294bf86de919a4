// The dashboard: fetch data/<uuid>, then draw the charts, the recent reads and the book list.
//
// For tests and for anyone scripting the page, window.dashboardCharts holds the Chart.js
// charts by name, and body[data-state] says "ready" once everything is drawn.

import { ApiError, request, setUpKeyForm, showError } from "./api.js";
import { perYear, ratingDistribution, recentReads, topGenres } from "./charts.js";

const RETRY_MS = 1000;
const RECENT = 12;
const COLORS = {
  books: "#3b6ea5",
  pages: "#4f9a7b",
  mine: "#d9822b",
  average: "#8a8fa3",
  genres: ["#3b6ea5", "#4f9a7b", "#d9822b", "#b8527a", "#7d6bc2",
           "#c2a03a", "#4a9bb5", "#a0614b", "#6f8f3a", "#8a8fa3"],
};

const number = new Intl.NumberFormat();
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const uuid = decodeURIComponent(window.location.pathname.split("/").filter(Boolean).pop() || "");

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

async function load() {
  showError(null);
  let answer;
  try {
    answer = await request(`data/${encodeURIComponent(uuid)}`);
  } catch (error) {
    document.getElementById("loading").hidden = true;
    showError(
      error instanceof ApiError && error.status === 404
        ? "There is no library with this id: it may have been deleted. Upload it again."
        : error.message || String(error),
    );
    document.body.dataset.state = "error";
    return;
  }
  if (answer.status === 202) {
    // still being processed (someone opened the link early): wait for it
    document.getElementById("loading").textContent = "Your library is still being processed…";
    window.setTimeout(load, RETRY_MS);
    return;
  }
  render(answer.body);
}

function render(data) {
  const books = Array.isArray(data.books) ? data.books : [];
  const summary = data.summary || {};
  document.getElementById("loading").hidden = true;
  document.getElementById("dashboard").hidden = false;
  renderSummary(summary);
  window.dashboardCharts = renderCharts(books, summary);
  renderRecent(books);
  renderBookList(books);
  document.body.dataset.state = "ready";
}

function renderSummary(summary) {
  const total = Number(summary.total_books) || 0;
  const enriched = Number(summary.genre_enriched_books) || 0;
  const items = [
    ["total-books", "Books", number.format(total)],
    ["read-books", "Read", number.format(Number(summary.read_books) || 0)],
    ["total-pages", "Pages read", number.format(Number(summary.total_pages) || 0)],
    [
      "average-rating",
      "Your average rating",
      summary.average_rating ? `${decimal.format(summary.average_rating)} ★` : "–",
    ],
    ["unique-authors", "Authors", number.format(Number(summary.unique_authors) || 0)],
    ["unique-genres", "Genres", number.format(Number(summary.unique_genres) || 0)],
    [
      "enrichment-rate",
      "Books with genres found",
      total ? `${Math.round((100 * enriched) / total)} %` : "–",
    ],
  ];
  const list = document.getElementById("summary");
  list.replaceChildren();
  for (const [key, label, value] of items) {
    const item = el("div", "stat");
    item.dataset.stat = key;
    item.append(el("dt", null, label), el("dd", null, value));
    list.append(item);
  }
  const range = summary.reading_date_range || {};
  document.getElementById("date-range").textContent =
    range.earliest && range.latest ? `Read between ${range.earliest} and ${range.latest}` : "";
}

function renderCharts(books, summary) {
  const Chart = window.Chart;
  if (window.matchMedia("(prefers-reduced-motion: reduce)").matches) {
    Chart.defaults.animation = false;
  }
  Chart.defaults.maintainAspectRatio = false; // each canvas fills its box, at any width
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;

  const years = perYear(books);
  const ratings = ratingDistribution(books);
  const genres = topGenres(summary);
  const integerAxis = { beginAtZero: true, ticks: { precision: 0 } };
  const noLegend = { legend: { display: false } };
  const canvas = (id) => document.getElementById(id);

  return {
    booksPerYear: new Chart(canvas("chart-books-per-year"), {
      type: "bar",
      data: {
        labels: years.labels,
        datasets: [{ label: "Books", data: years.books, backgroundColor: COLORS.books }],
      },
      options: { plugins: noLegend, scales: { y: integerAxis } },
    }),
    pagesPerYear: new Chart(canvas("chart-pages-per-year"), {
      type: "bar",
      data: {
        labels: years.labels,
        datasets: [{ label: "Pages", data: years.pages, backgroundColor: COLORS.pages }],
      },
      options: { plugins: noLegend, scales: { y: integerAxis } },
    }),
    ratings: new Chart(canvas("chart-ratings"), {
      type: "bar",
      data: {
        labels: ratings.labels,
        datasets: [
          { label: "Your rating", data: ratings.mine, backgroundColor: COLORS.mine },
          { label: "Goodreads average", data: ratings.average, backgroundColor: COLORS.average },
        ],
      },
      options: { scales: { y: integerAxis } },
    }),
    genres: new Chart(canvas("chart-genres"), {
      type: "bar",
      data: {
        labels: genres.labels,
        datasets: [{ label: "Books", data: genres.counts, backgroundColor: COLORS.genres }],
      },
      options: { indexAxis: "y", plugins: noLegend, scales: { x: integerAxis } },
    }),
  };
}

function cover(book, className) {
  const box = el("div", `cover ${className}`);
  const placeholder = () => {
    box.classList.add("placeholder");
    box.replaceChildren(el("span", null, (book.title || "?").trim().charAt(0).toUpperCase()));
  };
  const url = book.thumbnail_url || book.small_thumbnail_url;
  if (!url) {
    placeholder();
    return box;
  }
  const img = el("img");
  img.loading = "lazy";
  img.decoding = "async";
  img.referrerPolicy = "no-referrer";
  img.alt = "";
  img.src = url;
  img.addEventListener("error", placeholder, { once: true });
  box.append(img);
  return box;
}

function stars(rating) {
  const n = Number(rating) || 0;
  return n > 0 ? "★".repeat(n) + "☆".repeat(5 - n) : "not rated";
}

function renderRecent(books) {
  const list = document.getElementById("recent");
  list.replaceChildren();
  for (const book of recentReads(books, RECENT)) {
    const item = el("li", "recent-item");
    item.append(
      cover(book, "cover-recent"),
      el("span", "recent-title", book.title),
      el("span", "muted", book.date_read),
    );
    list.append(item);
  }
  if (!list.children.length) list.append(el("li", "muted", "No books with a date read yet."));
}

function fold(text) {
  // case and accents do not matter when filtering: "bronte" finds "Brontë"
  return String(text || "")
    .normalize("NFD")
    .replace(/\p{M}/gu, "")
    .toLowerCase();
}

function renderBookList(books) {
  const list = document.getElementById("books");
  const rows = books.map((book) => {
    const item = el("li", "book");
    const text = el("div", "book-text");
    text.append(el("span", "book-title", book.title), el("span", "book-author", book.author));
    const facts = [
      book.reading_year ? `read ${book.reading_year}` : book.reading_status,
      book.num_pages ? `${number.format(book.num_pages)} pages` : null,
    ].filter(Boolean);
    text.append(el("span", "muted", facts.join(" · ")));
    text.append(el("span", "book-rating", stars(book.my_rating)));
    const genres = Array.isArray(book.genres) ? book.genres : [];
    if (genres.length) text.append(el("span", "book-genres", genres.slice(0, 4).join(", ")));
    item.append(cover(book, "cover-list"), text);
    list.append(item);
    return {
      item,
      text: fold(`${book.title} ${book.author}`),
      year: book.reading_year ? String(book.reading_year) : "",
      genres: new Set(genres),
      rating: String(Number(book.my_rating) || 0),
    };
  });

  fillSelect("filter-year", [...new Set(rows.map((r) => r.year).filter(Boolean))].sort().reverse());
  fillSelect(
    "filter-genre",
    [...new Set(books.flatMap((b) => (Array.isArray(b.genres) ? b.genres : [])))].sort(),
  );

  const controls = ["filter-text", "filter-year", "filter-genre", "filter-rating"].map((id) =>
    document.getElementById(id),
  );
  const [textInput, yearSelect, genreSelect, ratingSelect] = controls;
  const count = document.getElementById("book-count");
  const apply = () => {
    const wanted = fold(textInput.value.trim());
    let shown = 0;
    for (const row of rows) {
      const visible =
        (!wanted || row.text.includes(wanted)) &&
        (!yearSelect.value || row.year === yearSelect.value) &&
        (!genreSelect.value || row.genres.has(genreSelect.value)) &&
        (!ratingSelect.value || row.rating === ratingSelect.value);
      row.item.hidden = !visible;
      if (visible) shown += 1;
    }
    count.textContent =
      shown === rows.length ? `(${rows.length})` : `(${shown} of ${rows.length})`;
  };
  for (const control of controls) control.addEventListener("input", apply);
  document.getElementById("filters").addEventListener("submit", (e) => e.preventDefault());
  apply();
}

function fillSelect(id, values) {
  const select = document.getElementById(id);
  for (const value of values) {
    const option = el("option", null, value);
    option.value = value;
    select.append(option);
  }
}

setUpKeyForm(() => {
  if (document.body.dataset.state !== "ready") load();
});
load();
