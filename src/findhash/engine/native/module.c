/*
 * findhash.engine._native: the Python face of the native SHA-256 scanner.
 *
 * Arguments are checked here, with the GIL held; the scan itself runs without
 * it, on the caller's buffers and a Targets object that no scan modifies, so
 * threads scan in parallel.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "cpu.h"
#include "scan.h"
#include "selftest.h"

#define MAX_KERNELS 3

/* The kernels this machine can run, best first; filled once when the module loads. */
static const struct fh_kernel *kernels_here[MAX_KERNELS];
static int nkernels_here;

static void detect_kernels(void)
{
    struct fh_cpu cpu = fh_cpu_detect();

#ifdef FINDHASH_HAVE_SHANI
    if (cpu.shani) {
        kernels_here[nkernels_here++] = &fh_kernel_shani;
    }
#endif
#ifdef FINDHASH_HAVE_AVX2
    if (cpu.avx2) {
        kernels_here[nkernels_here++] = &fh_kernel_avx2;
    }
#endif
    (void)cpu; /* unused when no instruction-set kernel is built in */
    kernels_here[nkernels_here++] = &fh_kernel_portable;
}

/* The kernel called `name`, or NULL with ValueError set. */
static const struct fh_kernel *find_kernel(const char *name)
{
    static const char *const known[] = {"sha-ni", "avx2", "portable"};

    for (int i = 0; i < nkernels_here; i++) {
        if (strcmp(kernels_here[i]->name, name) == 0) {
            return kernels_here[i];
        }
    }
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(known[i], name) == 0) {
            PyErr_Format(PyExc_ValueError,
                         "kernel '%s' is not available here (not built, or not supported "
                         "by this CPU)", name);
            return NULL;
        }
    }
    PyErr_Format(PyExc_ValueError, "unknown kernel '%s'", name);
    return NULL;
}

/* Targets ------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    struct fh_targets *targets;
} TargetsObject;

static int is_prefix(const char *s, Py_ssize_t n)
{
    if (n < 1 || n > FH_MAX_DIGITS) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

/* Reads and checks the prefixes; returns 0, or -1 with an exception set. */
static int read_prefixes(PyObject *seq, const char **prefixes, size_t *lengths)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);

    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t length;

        if (!PyUnicode_Check(items[i])) {
            PyErr_Format(PyExc_TypeError, "prefix at position %zd is %.100s, not str", i,
                         Py_TYPE(items[i])->tp_name);
            return -1;
        }
        prefixes[i] = PyUnicode_AsUTF8AndSize(items[i], &length);
        if (prefixes[i] == NULL) {
            return -1;
        }
        if (!is_prefix(prefixes[i], length)) {
            PyErr_Format(PyExc_ValueError,
                         "invalid prefix %R at position %zd: expected 1 to %d lower-case "
                         "hex digits", items[i], i, FH_MAX_DIGITS);
            return -1;
        }
        lengths[i] = (size_t)length;
    }
    return 0;
}

static struct fh_targets *targets_from_sequence(PyObject *seq)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    const char **prefixes = PyMem_Calloc(n ? (size_t)n : 1, sizeof *prefixes);
    size_t *lengths = PyMem_Calloc(n ? (size_t)n : 1, sizeof *lengths);
    struct fh_targets *targets = NULL;

    if (prefixes == NULL || lengths == NULL) {
        PyErr_NoMemory();
    } else if (n > (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "too many prefixes");
    } else if (read_prefixes(seq, prefixes, lengths) == 0) {
        targets = fh_targets_new(prefixes, lengths, (size_t)n);
        if (targets == NULL) {
            PyErr_NoMemory();
        }
    }
    PyMem_Free(prefixes);
    PyMem_Free(lengths);
    return targets;
}

static PyObject *targets_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"prefixes", NULL};
    PyObject *arg, *seq;
    TargetsObject *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:Targets", kwlist, &arg)) {
        return NULL;
    }
    /* A string is a sequence too, of one-digit prefixes, which is never what was meant. */
    if (PyUnicode_Check(arg) || PyBytes_Check(arg) || PyByteArray_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "prefixes must be a sequence of str, not a string");
        return NULL;
    }
    seq = PySequence_Fast(arg, "prefixes must be a sequence of str");
    if (seq == NULL) {
        return NULL;
    }
    self = (TargetsObject *)type->tp_alloc(type, 0);
    if (self != NULL) {
        self->targets = targets_from_sequence(seq);
        if (self->targets == NULL) {
            Py_CLEAR(self);
        }
    }
    Py_DECREF(seq);
    return (PyObject *)self;
}

static void targets_dealloc(TargetsObject *self)
{
    fh_targets_free(self->targets);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t targets_len(TargetsObject *self)
{
    return (Py_ssize_t)self->targets->npositions;
}

static PyObject *targets_repr(TargetsObject *self)
{
    return PyUnicode_FromFormat("<Targets: %zu prefixes, %zu distinct>",
                                self->targets->npositions, self->targets->ntargets);
}

static PySequenceMethods targets_as_sequence = {
    .sq_length = (lenfunc)targets_len,
};

static PyTypeObject TargetsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "findhash.engine._native.Targets",
    .tp_doc = PyDoc_STR(
        "Targets(prefixes)\n--\n\n"
        "The prefixes a scan looks for, with their prefilter, built once for many scans.\n"
        "Each prefix is 1 to 64 lower-case hex digits; duplicates are allowed, and every\n"
        "position is reported."),
    .tp_basicsize = sizeof(TargetsObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = targets_new,
    .tp_dealloc = (destructor)targets_dealloc,
    .tp_repr = (reprfunc)targets_repr,
    .tp_as_sequence = &targets_as_sequence,
};

/* scan ------------------------------------------------------------------- */

/* Checks the alphabet: 2 to 95 distinct printable ASCII characters. */
static int check_alphabet(const Py_buffer *alphabet)
{
    const uint8_t *chars = alphabet->buf;
    int seen[128] = {0};

    if (alphabet->len < 2 || alphabet->len > FH_MAX_RADIX) {
        PyErr_Format(PyExc_ValueError, "alphabet must have 2 to %d characters, not %zd",
                     FH_MAX_RADIX, alphabet->len);
        return -1;
    }
    for (Py_ssize_t i = 0; i < alphabet->len; i++) {
        if (chars[i] < 0x20 || chars[i] > 0x7e) {
            PyErr_Format(PyExc_ValueError,
                         "alphabet byte %d at position %zd is not printable ASCII", chars[i], i);
            return -1;
        }
        if (seen[chars[i]]++) {
            PyErr_Format(PyExc_ValueError, "alphabet repeats '%c'", chars[i]);
            return -1;
        }
    }
    return 0;
}

/* Reads start and count; both must be in 0 .. 2**64-1, and so must their sum. */
static int read_range(PyObject *start_obj, PyObject *count_obj, uint64_t *start,
                      uint64_t *count)
{
    unsigned long long s, c;

    s = PyLong_AsUnsignedLongLong(start_obj);
    if (s == (unsigned long long)-1 && PyErr_Occurred()) {
        return -1;
    }
    c = PyLong_AsUnsignedLongLong(count_obj);
    if (c == (unsigned long long)-1 && PyErr_Occurred()) {
        return -1;
    }
    if (s > UINT64_MAX - c) {
        PyErr_SetString(PyExc_OverflowError, "start + count does not fit in 64 bits");
        return -1;
    }
    *start = s;
    *count = c;
    return 0;
}

/* [(position, index, digest), ...] for every position whose prefix was found. */
static PyObject *hits_list(const struct fh_matcher *m)
{
    const struct fh_targets *t = m->targets;
    PyObject *list = PyList_New(0);

    for (size_t pos = 0; list != NULL && pos < t->npositions; pos++) {
        const struct fh_hit *hit = &m->hits[t->target_of[pos]];
        PyObject *item;

        if (!hit->found) {
            continue;
        }
        item = Py_BuildValue("(nKy#)", (Py_ssize_t)pos, (unsigned long long)hit->index,
                             (const char *)hit->digest, (Py_ssize_t)32);
        if (item == NULL || PyList_Append(list, item) != 0) {
            Py_XDECREF(item);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(item);
    }
    return list;
}

static PyObject *run_scan(struct fh_scan_request *request, const struct fh_targets *targets)
{
    struct fh_matcher matcher;
    uint64_t hashed;
    PyObject *hits;

    if (fh_matcher_init(&matcher, targets) != 0) {
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    hashed = fh_scan(request, &matcher);
    Py_END_ALLOW_THREADS

    hits = hits_list(&matcher);
    fh_matcher_free(&matcher);
    if (hits == NULL) {
        return NULL;
    }
    return Py_BuildValue("(KN)", (unsigned long long)hashed, hits);
}

static PyObject *scan(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {
        "kernel", "message", "alphabet", "start", "count", "targets", "stop_when_all_found", NULL,
    };
    const char *kernel_name;
    Py_buffer message, alphabet;
    PyObject *start_obj, *count_obj, *result = NULL;
    TargetsObject *targets;
    int stop = 0;
    struct fh_scan_request request;

    (void)module;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "sy*y*OOO!|p:scan", kwlist, &kernel_name,
                                     &message, &alphabet, &start_obj, &count_obj,
                                     &TargetsType, &targets, &stop)) {
        return NULL;
    }
    request.kernel = find_kernel(kernel_name);
    if (request.kernel != NULL && check_alphabet(&alphabet) == 0 &&
        read_range(start_obj, count_obj, &request.start, &request.count) == 0) {
        request.message = message.buf;
        request.message_len = (size_t)message.len;
        request.alphabet = alphabet.buf;
        request.radix = (int)alphabet.len;
        request.stop_when_all_found = stop;
        result = run_scan(&request, targets->targets);
    }
    PyBuffer_Release(&message);
    PyBuffer_Release(&alphabet);
    return result;
}

/* kernels and self_test -------------------------------------------------- */

static PyObject *kernels(PyObject *module, PyObject *unused)
{
    PyObject *names = PyTuple_New(nkernels_here);

    (void)module;
    (void)unused;
    for (int i = 0; names != NULL && i < nkernels_here; i++) {
        PyObject *name = PyUnicode_FromString(kernels_here[i]->name);

        if (name == NULL) {
            Py_CLEAR(names);
            break;
        }
        PyTuple_SET_ITEM(names, i, name);
    }
    return names;
}

static PyObject *self_test(PyObject *module, PyObject *arg)
{
    const struct fh_kernel *kernel;
    const char *name;
    int passed;

    (void)module;
    name = PyUnicode_AsUTF8(arg);
    if (name == NULL) {
        return NULL;
    }
    kernel = find_kernel(name);
    if (kernel == NULL) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    passed = fh_self_test(kernel);
    Py_END_ALLOW_THREADS
    if (passed < 0) {
        return PyErr_NoMemory();
    }
    return PyBool_FromLong(passed);
}

static PyMethodDef module_methods[] = {
    {"kernels", kernels, METH_NOARGS,
     PyDoc_STR("kernels() -> tuple[str, ...]\n--\n\n"
               "The kernels built in and supported by this CPU, best first.")},
    {"self_test", self_test, METH_O,
     PyDoc_STR("self_test(kernel) -> bool\n--\n\n"
               "Run the kernel's known-answer test over every path a scan uses.")},
    {"scan", (PyCFunction)(void (*)(void))scan, METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("scan(kernel, message, alphabet, start, count, targets, "
               "stop_when_all_found=False)\n--\n\n"
               "Hash candidates start .. start+count-1 and return (hashed, hits): hits are\n"
               "(position, index, digest) for each target position's first hit, by position.\n"
               "With stop_when_all_found the scan ends once every position has a hit.")},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "findhash.engine._native",
    .m_doc = PyDoc_STR("Native SHA-256 kernels that scan candidate ranges against many prefixes."),
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__native(void)
{
    PyObject *module;

    if (PyType_Ready(&TargetsType) < 0) {
        return NULL;
    }
    module = PyModule_Create(&native_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "Targets", (PyObject *)&TargetsType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    if (nkernels_here == 0) {
        detect_kernels();
    }
    return module;
}
