/* corio.h: the C core of corio, with no Lua in it. Everything returns 0 (or
 * a count) on success and -errno on failure. */
#ifndef CORIO_H
#define CORIO_H
#include "addr.h"
#include "backend.h"
#include "buf.h"
#include "clock.h"
#include "fs.h"
#include "loop.h"
#include "pool.h"
#include "resolve.h"
#include "task.h"
#include "stream.h"
#include "timer.h"
#include "waitq.h"
#include "workers.h"
#endif
