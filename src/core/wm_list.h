/*
 * An intrusive doubly linked list: a wm_link_t lives inside the object,
 * the list head is a wm_link_t too, and wm_link_data() gets back from the
 * link to the object. Used for the live connections of a worker, which are
 * freed when it exits.
 */
#ifndef WM_LIST_H
#define WM_LIST_H

#include "wm_core.h"

typedef struct wm_link_s wm_link_t;
struct wm_link_s {
    wm_link_t *prev;
    wm_link_t *next;
};

/* An empty list head (also a detached link). */
static inline void
wm_list_init(wm_link_t *head)
{
    head->prev = head->next = head;
}

static inline bool
wm_list_empty(const wm_link_t *head)
{
    return head->next == head;
}

/* Appends link (detached) to the list. */
static inline void
wm_list_add(wm_link_t *head, wm_link_t *link)
{
    link->prev = head->prev;
    link->next = head;
    head->prev->next = link;
    head->prev = link;
}

/* Takes link out of its list; a detached link is left as it is. */
static inline void
wm_list_remove(wm_link_t *link)
{
    if (link->next) {
        link->prev->next = link->next;
        link->next->prev = link->prev;
    }
    link->prev = link->next = NULL;
}

#define wm_link_data(link, type, member)                                       \
    ((type *) ((u_char *) (link) - offsetof(type, member)))

#endif /* WM_LIST_H */
