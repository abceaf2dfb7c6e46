// scalectl's logic lives in ScalectlCore so that tests can reach it.
import ScalectlCore

await Scalectl.start()
