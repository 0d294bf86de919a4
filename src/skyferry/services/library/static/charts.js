// The numbers each chart shows, computed from the dashboard JSON's books and summary.
// Kept apart from drawing so that what a chart means is written down in one place.

export const STARS = [1, 2, 3, 4, 5];
export const TOP_GENRES = 10;

function pages(book) {
  const n = Number(book.num_pages);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/**
 * Per year read (ascending): how many books, and how many pages (books without a count add 0).
 * Only books on the "read" shelf count, as in the summary's reading_years and total_pages: a
 * book being reread carries the date of its last read, but is not read (again) yet.
 */
export function perYear(books) {
  const byYear = new Map();
  for (const book of books) {
    const year = Number(book.reading_year);
    if (book.reading_status !== "read" || !Number.isInteger(year) || year <= 0) continue;
    const entry = byYear.get(year) || { books: 0, pages: 0 };
    entry.books += 1;
    entry.pages += pages(book);
    byYear.set(year, entry);
  }
  const years = [...byYear.keys()].sort((a, b) => a - b);
  return {
    labels: years.map(String),
    books: years.map((y) => byYear.get(y).books),
    pages: years.map((y) => byYear.get(y).pages),
  };
}

/**
 * How many books got each star: from you (rated books only), and by their Goodreads average
 * rounded to the nearest star (books whose average is known, i.e. above 0).
 */
export function ratingDistribution(books) {
  const mine = STARS.map(() => 0);
  const average = STARS.map(() => 0);
  for (const book of books) {
    const own = Number(book.my_rating);
    if (Number.isInteger(own) && own >= 1 && own <= 5) mine[own - 1] += 1;
    const avg = Number(book.average_rating);
    if (book.average_rating !== null && Number.isFinite(avg) && avg > 0) {
      const star = Math.min(5, Math.max(1, Math.floor(avg + 0.5)));
      average[star - 1] += 1;
    }
  }
  return { labels: STARS.map((s) => `${s} ★`), mine, average };
}

/** The most common genres as the summary lists them, at most TOP_GENRES. */
export function topGenres(summary) {
  const list = (summary.most_common_genres || []).slice(0, TOP_GENRES);
  return { labels: list.map((g) => g.genre), counts: list.map((g) => g.count) };
}

/** Books with a date read, the latest first. */
export function recentReads(books, count) {
  return books
    .filter((b) => b.date_read)
    // ISO-like dates (2024-03-15, or Goodreads' 2024/03/15) sort as plain strings
    .sort((a, b) => {
      const [x, y] = [String(a.date_read), String(b.date_read)];
      return x < y ? 1 : x > y ? -1 : 0;
    })
    .slice(0, count);
}
