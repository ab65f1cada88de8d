//===- SerializeToPtx.cpp - gpu.module → PTX with attn's LLVM pipeline ----===//
//
// Implements -attn-serialize-to-ptx: gpu-module-to-binary{format=isa} for
// NVVM targets, except that the LLVM IR is optimized here rather than by
// the target's serializer:
//
//   1. the module is translated to LLVM IR and linked with the target's
//      libraries (libdevice for the soft-cap's tanh), as by the NVVM
//      target's own serializer (SerializeGPUModuleBase), but only when it
//      declares a function or variable it does not define;
//   2. at O ≥ 1, a short pipeline of the passes these kernels need
//      (kKernelPipeline) instead of LLVM's O2 (O0 stays O0);
//   3. NVPTX generates PTX, without the two code generation passes that
//      cost the most and change nothing in these kernels
//      (kSkippedCodegenPasses), and a gpu.binary replaces the module.
//
// Measured against O2 on 1024 kernels (f16/bf16, D 8…256 incl. 59, 111/48,
// 64/256, eight mask kinds, 4 tile configurations, sm_80 and sm_90a): the
// same mma, ldmatrix, cp.async, shuffle, load/store and floating-point
// instructions in every key loop. Outside it: the epilogue tests l > 0 in
// each of its two branches (one setp more per row, once per CTA), and the
// inlined tanh selects with one inverted compare instead of two. Under
// ptxas: 2124 SASS instructions per kernel on average against 2229, fewer in
// 666 kernels and more in 276; 165.7 registers against 166.0. The
// optimization takes 15 ms instead of 30 for D = 128 (spec → PTX −15 ms).
//
//===----------------------------------------------------------------------===//

#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/CompilationInterfaces.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Target/LLVM/NVVM/Utils.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/OptBisect.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Target/TargetMachine.h"

#define DEBUG_TYPE "attn-serialize-to-ptx"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNSERIALIZETOPTX
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {

/// Step 2: the LLVM passes that kernels from MLIR's NVVM lowering need.
/// They arrive unrolled by attn's passes, as one function with one key loop
/// and straight-line code around it, full of descriptor struct traffic and
/// index math to fold:
///   1. the target's pipeline-start passes, as at O2: nvvm-reflect answers
///      libdevice's __nvvm_reflect queries for the chip (__CUDA_ARCH,
///      __CUDA_FTZ), nvvm-intr-range gives thread and block ids their
///      ranges (correlated-propagation narrows index math with them);
///   2. inline libdevice's functions (the soft-cap's tanh);
///   3. fold the struct traffic and the constant index math (early-cse,
///      instcombine, simplifycfg);
///   4. hoist the loop-invariant addresses out of the key loop (licm);
///   5. canonical loops (rotate, indvars, deletion) and constant-trip loops
///      unrolled (-attn-stage-shared-memory's copy loops, kept for rows
///      that 128 threads do not split evenly, e.g. D = 96 or 59, are left
///      to ptxas, which unrolls them in this form);
///   6. clean up after them (early-cse with memory SSA, instcombine,
///      simplifycfg) and drop what libdevice left unused (globaldce).
/// This string is steps 2 to 6; step 1 comes from the target machine.
/// instcombine runs one iteration, as in LLVM's own pipelines: the textual
/// `instcombine` verifies a fixpoint, i.e. runs a second one and ends the
/// process (LLVM ERROR) if that changes anything, which the second run did
/// on a static D = 59 kernel (Sq = 113, Sk = 203, a keep mask); the check
/// also cost 4% of spec → PTX.
constexpr llvm::StringLiteral kKernelPipeline =
    "cgscc(inline),function(early-cse,instcombine<no-verify-fixpoint>,"
    "simplifycfg,correlated-propagation,loop-mssa(licm),"
    "loop(loop-rotate,indvars,loop-deletion,loop-unroll-full),"
    "early-cse<memssa>,instcombine<no-verify-fixpoint>,simplifycfg),"
    "globaldce";

/// Step 3's omissions: NVPTX's straight-line strength reduction and n-ary
/// reassociation, which the target adds at every level but O0 (a library
/// can otherwise drop them only through process-wide cl::opts). At D = 128
/// (causal) they take 12.6% of spec → PTX (62 M of 491 M instructions
/// executed, without the process start; slsr's share mostly
/// ScalarEvolution::canReuseInstruction's poison checks over the one-block
/// key loop) and leave the PTX as it was: identical for every
/// kernel with D = 64, 128, 256 or 111/48 of the 1008-kernel matrix; where
/// -attn-stage-shared-memory keeps copy loops (D = 8, 59, 96, 64/256) the
/// PTX differs, with 0.1% fewer SASS instructions on average.
constexpr llvm::StringLiteral kSkippedCodegenPasses[] = {"slsr",
                                                          "nary-reassociate"};

/// A pass gate that refuses kSkippedCodegenPasses and leaves every other
/// pass to the gate it wraps (the context's, e.g. -opt-bisect-limit's).
class CodegenPassGate : public llvm::OptPassGate {
public:
  explicit CodegenPassGate(llvm::OptPassGate &next) : next(next) {}

  bool isEnabled() const override { return true; }
  bool shouldRunPass(llvm::StringRef pass,
                     llvm::StringRef description) const override {
    if (llvm::is_contained(kSkippedCodegenPasses, pass))
      return false;
    return !next.isEnabled() || next.shouldRunPass(pass, description);
  }

  llvm::OptPassGate &next;
};

/// The NVVM target's serialization to PTX, with step 2 as its optimization.
class PtxSerializer : public NVVM::SerializeGPUModuleBase {
public:
  using SerializeGPUModuleBase::SerializeGPUModuleBase;

protected:
  /// The target's libraries (libdevice) only when the module declares a
  /// function or variable it does not define, which only they can provide:
  /// parsing libdevice's bitcode takes ~3 ms, and most kernels declare
  /// nothing (only the soft-cap's tanh does).
  std::optional<SmallVector<std::unique_ptr<llvm::Module>>>
  loadBitcodeFiles(llvm::Module &llvmModule) override {
    bool declares =
        llvm::any_of(llvmModule.functions(),
                     [](const llvm::Function &f) {
                       return f.isDeclaration() && !f.isIntrinsic();
                     }) ||
        llvm::any_of(llvmModule.globals(), [](const llvm::GlobalVariable &g) {
          return g.isDeclaration();
        });
    if (!declares)
      return SmallVector<std::unique_ptr<llvm::Module>>();
    return SerializeGPUModuleBase::loadBitcodeFiles(llvmModule);
  }

  LogicalResult optimizeModule(llvm::Module &llvmModule, int level) override {
    FailureOr<llvm::TargetMachine *> machine = getOrCreateTargetMachine();
    if (failed(machine))
      return getOperation().emitError()
             << "no LLVM target machine for " << triple << " " << chip;
    llvm::LoopAnalysisManager lam;
    llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cgam;
    llvm::ModuleAnalysisManager mam;
    // The machine's callbacks make its passes (nvvm-reflect, ...) known.
    llvm::PassBuilder pb(*machine);
    pb.registerModuleAnalyses(mam);
    pb.registerCGSCCAnalyses(cgam);
    pb.registerFunctionAnalyses(fam);
    pb.registerLoopAnalyses(lam);
    pb.crossRegisterProxies(lam, fam, cgam, mam);
    llvm::ModulePassManager mpm;
    if (level <= 0) {
      mpm = pb.buildO0DefaultPipeline(llvm::OptimizationLevel::O0);
    } else {
      pb.invokePipelineStartEPCallbacks(mpm, llvm::OptimizationLevel::O2);
      if (llvm::Error error = pb.parsePassPipeline(mpm, kKernelPipeline))
        return getOperation().emitError()
               << "invalid LLVM pipeline: " << llvm::toString(std::move(error));
    }
    mpm.run(llvmModule, mam);
    return success();
  }

  FailureOr<SmallVector<char, 0>>
  moduleToObject(llvm::Module &llvmModule) override {
    FailureOr<llvm::TargetMachine *> machine = getOrCreateTargetMachine();
    if (failed(machine))
      return getOperation().emitError()
             << "no LLVM target machine for " << triple << " " << chip;
    llvm::LLVMContext &context = llvmModule.getContext();
    CodegenPassGate gate(context.getOptPassGate());
    context.setOptPassGate(gate);
    FailureOr<SmallString<0>> ptx = translateModuleToISA(
        llvmModule, **machine, [&] { return getOperation().emitError(); });
    context.setOptPassGate(gate.next);
    if (failed(ptx))
      return failure();
    return SmallVector<char, 0>(ptx->begin(), ptx->end());
  }
};

struct AttnSerializeToPtxPass
    : mlir::attn::impl::AttnSerializeToPtxBase<AttnSerializeToPtxPass> {
  using AttnSerializeToPtxBase::AttnSerializeToPtxBase;

  LogicalResult serialize(gpu::GPUModuleOp module) {
    // A pipeline may run without verification between passes (the JIT
    // does): invalid IR stops here with the verifier's message instead of
    // reaching the LLVM translation.
    if (failed(verify(module)))
      return failure();
    ArrayAttr targets = module.getTargetsAttr();
    if (!targets || targets.empty())
      return module.emitError() << "expects at least one #nvvm.target";
    SmallVector<Attribute> objects;
    gpu::TargetOptions options(toolkit, /*librariesToLink=*/{},
                               /*cmdOptions=*/{}, /*elfSection=*/{},
                               gpu::CompilationTarget::Assembly);
    for (Attribute a : targets) {
      auto target = dyn_cast<NVVM::NVVMTargetAttr>(a);
      if (!target)
        return module.emitError() << "expects #nvvm.target targets, got " << a;
      PtxSerializer::init();
      PtxSerializer serializer(*module, target, options);
      std::optional<SmallVector<char, 0>> ptx = serializer.run();
      if (!ptx)
        return module.emitError() << "PTX generation failed for " << a;
      objects.push_back(cast<gpu::TargetAttrInterface>(a).createObject(
          module, *ptx, options));
    }
    OpBuilder b(module);
    gpu::BinaryOp::create(b, module.getLoc(), module.getName(),
                          /*offloadingHandler=*/nullptr,
                          b.getArrayAttr(objects));
    module.erase();
    return success();
  }

  void runOnOperation() override {
    auto modules = llvm::to_vector(getOperation().getOps<gpu::GPUModuleOp>());
    for (gpu::GPUModuleOp module : modules)
      if (failed(serialize(module)))
        return signalPassFailure();
  }
};

} // namespace
