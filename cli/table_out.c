/* Aligned human tables for listings. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct pt_table_out {
	int ncols;
	char **cells; /* rows * ncols, headers first */
	size_t nrows;
	size_t cap;
};

static int append_row(pt_table_out_t *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		char **grown = realloc(t->cells,
				       cap * (size_t)t->ncols * sizeof *grown);
		if (!grown)
			return PT_ERR_NOMEM;
		t->cells = grown;
		t->cap = cap;
	}
	char **row = t->cells + t->nrows * (size_t)t->ncols;
	for (int c = 0; c < t->ncols; c++) {
		row[c] = strdup(cells[c] ? cells[c] : "");
		if (!row[c]) {
			while (c-- > 0)
				free(row[c]);
			return PT_ERR_NOMEM;
		}
	}
	t->nrows++;
	return PT_OK;
}

pt_table_out_t *pt_table_out_new(int ncols, const char *const *headers)
{
	pt_table_out_t *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->ncols = ncols;
	if (append_row(t, headers) != PT_OK)
		pt_table_out_destroy(&t);
	return t;
}

int pt_table_out_add(pt_table_out_t *t, const char *const *cells)
{
	return append_row(t, cells);
}

/* Display width of UTF-8 text: one column per code point is close enough
 * for the names and descriptions we print. */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

void pt_table_out_print(const pt_table_out_t *t, FILE *out)
{
	size_t *w = calloc((size_t)t->ncols, sizeof *w);
	if (!w)
		return;
	for (size_t r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++) {
			size_t cw = width(t->cells[r * (size_t)t->ncols + c]);
			if (cw > w[c])
				w[c] = cw;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r * (size_t)t->ncols + c];
			fputs(cell, out);
			if (c + 1 < t->ncols)
				for (size_t pad = width(cell); pad < w[c] + 2;
				     pad++)
					fputc(' ', out);
		}
		fputc('\n', out);
	}
	free(w);
}

void pt_table_out_destroy(pt_table_out_t **t)
{
	if (!t || !*t)
		return;
	for (size_t i = 0; i < (*t)->nrows * (size_t)(*t)->ncols; i++)
		free((*t)->cells[i]);
	free((*t)->cells);
	free(*t);
	*t = NULL;
}
